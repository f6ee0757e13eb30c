import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RegistryManager } from '../registry/registry-manager';
import type { Registry } from '../spi/registry';
import { URL } from '../url/url';
import { MemoryLogger } from './fakes';
import { waitFor } from './wait-for';

/** How the suite makes a backend's server go away and come back. */
export interface RegistryOutage {
  /** The server stops answering (stopped, killed, or simulated). */
  stop(): Promise<void>;
  /**
   * The server answers again. If it comes back without its data (a restart without persistence)
   * the backend reports `'reconnected'` and the manager registers again; either way the suite
   * expects the provider to be listed again.
   */
  start(): Promise<void>;
}

/** Options of {@link registryManagerContract}. */
export interface RegistryManagerContractOptions {
  /** Bound of one wait, ms (default 20000): a guard against hangs, not a timing assertion. */
  waitLimit?: number;
  /** Retry period of the managers the suite builds, ms (default 200, so retries are seen quickly). */
  retryPeriod?: number;
  /** Compare URLs by this key (default `toString()`), for backends that add params of their own. */
  urlKey?: (url: URL) => string;
}

let serial = 0;

/**
 * What a registry plugin gets from the kernel's registry manager when it implements only backend
 * I/O, as a jest suite: registration seen by another application's subscription; a provider
 * registered while the server is down is registered once it is back (retry); a consumer started
 * while the server is down serves from the disk snapshot; after the server comes back (with or
 * without its data) the provider is listed again. `create` makes one backend instance (one per
 * simulated application) on a shared server; `outage` stops and starts that server.
 */
export function registryManagerContract(
  name: string,
  create: () => Registry | Promise<Registry>,
  outage: RegistryOutage,
  options: RegistryManagerContractOptions = {},
): void {
  const waitLimit = options.waitLimit ?? 20_000;
  const retryPeriod = options.retryPeriod ?? 200;
  const key = options.urlKey ?? ((u: URL) => u.toString());

  describe(`registry manager contract: ${name}`, () => {
    let managers: RegistryManager[] = [];
    let dir = '';
    let iface = '';

    beforeEach(() => {
      serial++;
      iface = `plexus.managed.Svc${process.pid}x${Date.now().toString(36)}x${serial}`;
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-manager-'));
    });

    afterEach(async () => {
      await outage.start();
      for (const m of managers.splice(0)) await m.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function manager(snapshot: string | false = false): Promise<RegistryManager> {
      const m = new RegistryManager([{ id: name, address: `${name}://test`, backend: await create() }], {
        logger: new MemoryLogger(),
        snapshot,
        retryPeriod,
      });
      managers.push(m);
      return m;
    }

    const provider = (n: number) => new URL('plexus', `10.1.0.${n}`, 20880, iface, { side: 'provider', application: `p${n}` });
    const consumer = () => new URL('consumer', '10.1.0.200', 0, iface, { side: 'consumer', application: 'c' });
    const until = (check: () => boolean, what: string) => waitFor(check, waitLimit, what);

    function watch(m: RegistryManager): { latest: () => string[] | undefined } {
      let latest: string[] | undefined;
      void m.subscribe(consumer(), (urls) => {
        latest = urls.map(key).sort();
      });
      return { latest: () => latest };
    }

    it('a provider registered through one manager is seen by another application', async () => {
      const p = await manager();
      const c = await manager();
      const seen = watch(c);
      await p.register(provider(1));
      await until(() => seen.latest()?.join() === key(provider(1)), 'the provider in the list');
    });

    it('a register that fails while the server is down is retried until it succeeds', async () => {
      const c = await manager();
      const seen = watch(c);
      await until(() => seen.latest() !== undefined, 'the first list');
      await outage.stop();
      const p = await manager();
      await p.register(provider(2)); // fails inside; the manager keeps it for the retry timer
      await outage.start();
      await until(() => seen.latest()?.includes(key(provider(2))) === true, 'the provider registered after the outage');
    });

    it('a consumer started while the server is down serves the last list from the disk snapshot', async () => {
      const file = path.join(dir, 'snapshot.json');
      const p = await manager();
      await p.register(provider(3));
      const first = await manager(file);
      const seen = watch(first);
      await until(() => seen.latest()?.join() === key(provider(3)), 'the provider in the first consumer');
      await first.close();
      expect(fs.existsSync(file)).toBe(true);
      await outage.stop();
      const second = await manager(file);
      const cached = watch(second);
      await until(() => cached.latest()?.join() === key(provider(3)), 'the provider from the snapshot');
    });

    it('after the server comes back the provider is listed again', async () => {
      const p = await manager();
      const c = await manager();
      const seen = watch(c);
      await p.register(provider(4));
      await until(() => seen.latest()?.join() === key(provider(4)), 'the provider in the list');
      await outage.stop();
      await outage.start();
      await until(() => seen.latest()?.join() === key(provider(4)), 'the provider listed again after the outage');
    });
  });
}
