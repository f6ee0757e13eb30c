import { Plexus } from '../src';
import {
  CONFIG,
  EXTENSION_CONTEXT,
  LOGGER,
  NODE_AVAILABILITY,
  extension,
  inject,
  type ExtensionContext,
  type Filter,
  type Invocation,
  type Invoker,
  type Logger,
  type NodeAvailability,
  type PlexusConfig,
  type Result,
} from '../src/spi';

/** A filter that takes what it needs by token: the kernel builds it through the service's container. */
@extension('filter', 'audit', { activate: { side: ['provider'] } })
class AuditFilter implements Filter {
  static built: AuditFilter[] = [];
  constructor(
    @inject(LOGGER) readonly logger: Logger,
    @inject(CONFIG) readonly config: PlexusConfig,
    @inject(NODE_AVAILABILITY) readonly availability: NodeAvailability,
    @inject(EXTENSION_CONTEXT) readonly ctx: ExtensionContext,
  ) {
    AuditFilter.built.push(this);
  }
  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    return next.invoke(invocation).then((r) => ({ value: `${String(r.value)} (audited by ${this.config.application.name})` }));
  }
}

describe('tsyringe carries the kernel', () => {
  it('an @extension class with @inject constructor parameters is built through the app container', async () => {
    const app = Plexus.create({ logLevel: 'silent', application: { name: 'di-app' }, protocols: [{ name: 'injvm' }], extensions: { filter: { audit: { level: 3 } } } });
    app.loader.addPlugin([AuditFilter as never], 'audit-plugin');
    app.provide({ interface: 'di.Echo' }, { echo: (x: string) => x });
    await app.start();
    await expect(app.refer<{ echo(x: string): string }>({ interface: 'di.Echo' }).echo('hi')).resolves.toBe('hi (audited by di-app)');
    const built = AuditFilter.built[AuditFilter.built.length - 1];
    expect(built.logger).toBe(app.logger);
    expect(built.config).toBe(app.config);
    expect(built.ctx.options).toEqual({ level: 3 });
    expect(typeof built.availability.suspend).toBe('function');
    // The same singletons are what the application's container holds.
    expect(app.container.resolve(LOGGER)).toBe(app.logger);
    await app.stop();
  });

  it('a definePlugin factory reaches the same values through ctx.inject', async () => {
    let seen: unknown;
    const app = Plexus.create({ logLevel: 'silent', application: { name: 'di-app2' }, protocols: [{ name: 'injvm' }], provider: { filter: ['peek'] } });
    app.use({
      name: 'peek-plugin',
      extensions: [
        {
          point: 'filter',
          name: 'peek',
          create: (ctx) => {
            seen = ctx.inject(CONFIG);
            return { invoke: (next: Invoker, inv: Invocation) => next.invoke(inv) };
          },
        },
      ],
    });
    app.provide({ interface: 'di.Echo' }, { echo: (x: string) => x });
    await app.start();
    expect(seen).toBe(app.config);
    await app.stop();
  });
});
