/**
 * The console in Debian's headless Chromium (playwright-core, `/usr/bin/chromium`), against
 * applications in this process: what registries send is shown as text and never runs; the weight
 * field changes a provider's weight for the consumer; with `qos.token` the buttons need the token
 * field. Fails when Chromium is missing (`node scripts/servers.js install`).
 */
import * as fs from 'node:fs';
import { Plexus } from '@plexus/kernel';
import { ADMIN, URL, type Admin, type Invoker } from '@plexus/kernel/spi';
import { MemoryRegistry, memoryRegistryPlugin } from '@plexus/kernel/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import qosPlugin from '../src';
import { until } from './support/until';

const CHROMIUM = '/usr/bin/chromium';
const IFACE = 'qos.Browser';
const HOSTILE = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

jest.setTimeout(60_000);

/** A consumer-only protocol: its invokers answer with their address, no socket. */
const addressProtocol = {
  name: 'qos-test-address-protocol',
  extensions: [
    {
      point: 'protocol',
      name: 'addr',
      create: () => ({
        defaultPort: 1,
        export: async () => {
          throw new Error('consumer only');
        },
        refer: (url: URL): Invoker => ({ url, invoke: () => Promise.resolve({ value: url.address }) }),
        destroy: async () => undefined,
      }),
    },
  ],
};

let browser: Browser;
const apps: Plexus[] = [];

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run node scripts/servers.js install (apt-get install -y chromium)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], headless: true, timeout: 30_000 });
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});

afterAll(async () => {
  await browser?.close();
});

async function open(port: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(`http://127.0.0.1:${port}/`, { timeout: 15_000 });
  return { page, errors };
}

describe('the console in Chromium', () => {
  it('shows hostile registry entries as text, never as markup; the weight field changes a provider\'s weight', async () => {
    const namespace = `qos-browser-${process.pid}`;
    const registry = new MemoryRegistry({ namespace });
    const evil = new URL('addr', '10.0.0.1', 1, IFACE, { side: 'provider', note: HOSTILE });
    await registry.register(evil);
    await registry.register(new URL('addr', '10.0.0.2', 1, IFACE, { side: 'provider' }));
    const app = Plexus.create({
      logLevel: 'silent',
      application: { name: `<b>app</b>${HOSTILE}`, handleSignals: false },
      protocols: [{ name: 'addr' }],
      registry: { type: 'memory', namespace },
      qos: { port: 0 },
      references: { browser: { interface: IFACE, check: false } },
    });
    app.use(memoryRegistryPlugin).use(addressProtocol as never).use(qosPlugin);
    apps.push(app);
    await app.start();
    const admin = app.container.resolve<Admin>(ADMIN);
    await until(() => admin.describe().references[0]?.providers.length === 2, 5000, 'both providers listed');

    const { page, errors } = await open(admin.address()!.port);
    const rows = page.locator('#references tbody tr');
    await until(async () => (await rows.count()) === 2, 10_000, 'two provider rows');
    expect(await page.locator('#application').textContent()).toBe(`<b>app</b>${HOSTILE}`);
    const texts = await rows.allTextContents();
    expect(texts.some((t) => t.includes(encodeURIComponent(HOSTILE)) || t.includes(HOSTILE))).toBe(true);
    expect(await page.locator('img, b, #references script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    // Weight 100 → 7 for 10.0.0.2, through the page.
    const row = rows.filter({ hasText: '10.0.0.2:1' });
    await row.locator('input.weight').fill('7');
    await row.locator('button', { hasText: 'set weight' }).click();
    await until(() => admin.describe().references[0].providers.find((p) => p.address === '10.0.0.2:1')?.weight === 7, 5000, 'weight 7 applied');
    await until(async () => ((await rows.filter({ hasText: '10.0.0.2:1' }).locator('td').nth(3).textContent()) ?? '') === '7', 6000, 'the console showing weight 7');
    expect(admin.describe().references[0].providers.find((p) => p.address === '10.0.0.1:1')?.weight).toBe(100);

    // A refused weight shows the coded error on the page.
    await row.locator('input.weight').fill('2000000');
    await row.locator('button', { hasText: 'set weight' }).click();
    await until(async () => ((await page.locator('#message').textContent()) ?? '').includes('PLEXUS_ERR_QOS_BAD_WEIGHT'), 5000, 'the error shown');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('with qos.token, the buttons act only once the token field holds the token', async () => {
    const namespace = `qos-browser-token-${process.pid}`;
    const app = Plexus.create({
      logLevel: 'silent',
      application: { name: 'qos-browser-token', handleSignals: false },
      registry: { type: 'memory', namespace },
      protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
      qos: { port: 0, token: 'open-sesame' },
    });
    app.use(memoryRegistryPlugin).use(qosPlugin);
    app.provide({ interface: IFACE }, { ping: () => 'pong' });
    apps.push(app);
    await app.start();
    const admin = app.container.resolve<Admin>(ADMIN);
    const { page, errors } = await open(admin.address()!.port);
    const offline = page.locator(`#services tr[data-service="${IFACE}"] button[data-action="offline"]`);
    await offline.waitFor({ timeout: 10_000 });

    await offline.click();
    await until(async () => ((await page.locator('#message').textContent()) ?? '').includes('PLEXUS_ERR_QOS_UNAUTHORIZED'), 5000, 'the 401 shown');
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(1);
    expect(admin.ready).toBe(true);

    await page.locator('#token').fill('open-sesame');
    await page.locator('#token').dispatchEvent('change');
    await offline.click();
    await until(() => !admin.ready && MemoryRegistry.providers(namespace, IFACE).length === 0, 5000, 'offline with the token');
    await until(async () => (await page.locator('#ready').textContent()) === 'no (503)', 6000, 'the console showing not ready');
    expect(errors).toEqual([]);
    await page.close();
  });
});
