/**
 * `token` inside real applications, over the plexus protocol on 127.0.0.1: the exporter puts a
 * random token in place of `token: true` and publishes it in the provider URL; a consumer that
 * found the provider through the registry sends it; a direct `url:` reference without it is refused.
 * The filters are found through this package's manifest (`plugins: ['@plexus/filters']`).
 */
import { Plexus } from '@plexus/kernel';
import { RpcCode } from '@plexus/kernel/spi';
import { MemoryRegistry, memoryRegistryPlugin } from '@plexus/kernel/testing';
import { TOKEN_MISMATCH_REASON, TOKEN_MISSING_REASON } from '../src/token-errors';

const IFACE = 'token.Vault';

interface Vault {
  open(who: string): Promise<string>;
}

const apps: Plexus[] = [];
const namespaces: string[] = [];
afterEach(async () => {
  for (const app of apps.splice(0).reverse()) await app.stop();
  for (const ns of namespaces.splice(0)) MemoryRegistry.reset(ns);
});

function app(name: string, namespace: string, extra: Record<string, unknown> = {}): Plexus {
  const a = Plexus.create({
    logLevel: 'silent',
    application: { name },
    plugins: ['@plexus/filters'],
    registry: { type: 'memory', namespace },
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    ...extra,
  });
  a.use(memoryRegistryPlugin);
  apps.push(a);
  return a;
}

async function provider(namespace: string, token: unknown) {
  namespaces.push(namespace);
  const p = app('vault-provider', namespace);
  p.provide({ interface: IFACE, version: '1.0.0', token }, { open: (who: string) => `opened for ${who}` });
  await p.start();
  const url = p.exportedUrls().find((u) => u.protocol === 'plexus')!;
  return { app: p, url };
}

async function consumer(namespace: string, reference: Record<string, unknown>): Promise<Vault> {
  const c = app('vault-consumer', namespace, { references: { vault: { interface: IFACE, version: '1.0.0', check: false, retries: 0, timeout: 3000, ...reference } } });
  await c.start();
  return c.reference<Vault>('vault');
}

describe('token in an application', () => {
  it('token: true generates a random token per export and publishes it, never "true"', async () => {
    const one = await provider('token-gen-1', true);
    const two = await provider('token-gen-2', true);
    const t1 = one.url.getParam('token')!;
    const t2 = two.url.getParam('token')!;
    expect(t1).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(t2).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(t1).not.toBe(t2);
  });

  it('a registry-discovered consumer is served; a direct url: caller without the token is refused with FORBIDDEN', async () => {
    const { url } = await provider('token-flow', true);
    const viaRegistry = await consumer('token-flow', {});
    await expect(viaRegistry.open('ada')).resolves.toBe('opened for ada');

    const direct = await consumer('token-flow', { url: `plexus://127.0.0.1:${url.port}` });
    await expect(direct.open('eve')).rejects.toMatchObject({ code: RpcCode.FORBIDDEN, reason: TOKEN_MISSING_REASON, retryable: false });

    const guessing = await consumer('token-flow', { url: `plexus://127.0.0.1:${url.port}?token=guess` });
    const err = await guessing.open('eve').catch((e: Error) => e);
    expect(err).toMatchObject({ code: RpcCode.FORBIDDEN, reason: TOKEN_MISMATCH_REASON });
    expect((err as Error).message).not.toContain(url.getParam('token')!);
  });

  it('a fixed token: a direct caller that knows it (token: on the reference, or ?token= in the url) is served', async () => {
    const { url } = await provider('token-fixed', 'open-sesame');
    expect(url.getParam('token')).toBe('open-sesame');
    const byKey = await consumer('token-fixed', { url: `plexus://127.0.0.1:${url.port}`, token: 'open-sesame' });
    await expect(byKey.open('ali')).resolves.toBe('opened for ali');
    const byUrl = await consumer('token-fixed', { url: `plexus://127.0.0.1:${url.port}?token=open-sesame` });
    await expect(byUrl.open('baba')).resolves.toBe('opened for baba');
  });

  it('a service without token serves everyone', async () => {
    const { url } = await provider('token-none', undefined);
    expect(url.getParam('token')).toBeUndefined();
    const direct = await consumer('token-none', { url: `plexus://127.0.0.1:${url.port}` });
    await expect(direct.open('anyone')).resolves.toBe('opened for anyone');
  });
});
