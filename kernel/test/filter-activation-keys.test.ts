import { Plexus, definePlugin, type Filter, type Invocation, type Invoker } from '../src';

/** Filters gated by config keys (`activate.keys`) join a chain only where one of their keys is set. */
const ran: string[] = [];
const tracing = (name: string): Filter => ({
  invoke(next: Invoker, inv: Invocation) {
    ran.push(name);
    return next.invoke(inv);
  },
});

const plugin = definePlugin({
  name: 'gated-filters',
  extensions: [
    { point: 'filter', name: 'limits', keys: ['tps'], activate: { side: ['consumer', 'provider'], keys: ['tps'] }, create: () => tracing('limits') },
    { point: 'filter', name: 'auth', keys: ['token'], activate: { side: ['consumer', 'provider'], keys: { provider: ['token'] } }, create: () => tracing('auth') },
    { point: 'filter', name: 'always', activate: { side: ['consumer', 'provider'] }, create: () => tracing('always') },
  ],
});

async function callOnce(service: Record<string, unknown>, reference: Record<string, unknown>): Promise<string[]> {
  ran.length = 0;
  const app = Plexus.create({
    application: { name: 'gated' },
    protocol: { name: 'injvm' },
    references: { svc: { interface: 'g.Svc', ...reference } },
  });
  app.use(plugin);
  app.provide({ interface: 'g.Svc', ...service }, { ping: () => 'pong' });
  await app.start();
  try {
    await app.reference<{ ping(): Promise<string> }>('svc').ping();
    return [...ran].sort();
  } finally {
    await app.stop();
  }
}

describe('key-gated filter activation', () => {
  it('leaves a gated filter out where none of its keys is set, and the ungated one in', async () => {
    // consumer side: auth is gated on the provider side only, so it runs for the consumer
    expect(await callOnce({}, {})).toEqual(['always', 'always', 'auth']);
  });

  it('adds the gated filter where its key is set on the service, the reference or one method', async () => {
    expect(await callOnce({ tps: 100 }, {})).toEqual(['always', 'always', 'auth', 'limits']);
    expect(await callOnce({}, { methods: { ping: { tps: 100 } } })).toEqual(['always', 'always', 'auth', 'limits']);
    expect(await callOnce({ token: 'secret-value' }, {})).toEqual(['always', 'always', 'auth', 'auth']);
  });

  it('adds it regardless when named in filter:', async () => {
    expect(await callOnce({ filter: ['limits'] }, {})).toEqual(['always', 'always', 'auth', 'limits']);
  });
});
