import type { PlexusConfig } from '../config/types';
import { defineError } from '../errors/plexus-error';
import { suggest } from '../errors/suggest';
import type { ExtensionScope } from '../extension/extension-scope';
import type { RegistryManager } from '../registry/registry-manager';
import type { Logger } from '../spi/logger';
import { DEFAULT_WEIGHT } from '../spi/loadbalance';
import { DEFAULT_QOS, type Admin, type AppDescription, type QosConfig, type QosServer } from '../spi/qos';
import type { URL } from '../url/url';
import type { AppEvents } from './events';
import type { ReferenceRuntime } from './reference-runtime';
import type { Rules } from './rules';
import type { ServiceExporter } from './service-exporter';
import type { ServiceRuntime } from './service-runtime';

export const QosErrors = {
  UNKNOWN_SERVICE: defineError(
    'PLEXUS_ERR_QOS_UNKNOWN_SERVICE',
    (iface: string, known: string[], hint?: string) =>
      `this application provides no service "${iface}"${hint ? ` (did you mean "${hint}"?)` : ''}; it provides: ${known.join(', ') || '(none)'}`,
    'Give ?interface= one of the interfaces GET /ls lists, or leave it out to act on every service.',
  ),
  STOPPING: defineError(
    'PLEXUS_ERR_QOS_STOPPING',
    (what: string) => `cannot ${what}: the application is stopping`,
    'A stopping application unregisters everything; start a new process to serve again.',
  ),
  BAD_WEIGHT: defineError(
    'PLEXUS_ERR_QOS_BAD_WEIGHT',
    (what: string) => `weight change refused: ${what}`,
    'Send interface=<a service the registry lists>, address=<host:port of one of its providers> and weight=<an integer from 0 to 1000000>.',
  ),
};

/** The largest weight the console may set: the dynamic rules' own bound (docs/guide/dynamic-rules.md). */
const MAX_WEIGHT = 1_000_000;

/** What the application lends its admin view; `registered` is the application's own list, shared. */
export interface AdminHost {
  readonly config: PlexusConfig;
  readonly logger: Logger;
  readonly events: AppEvents;
  readonly exporter: ServiceExporter;
  readonly registered: URL[];
  registries(): RegistryManager | null;
  references(): Iterable<ReferenceRuntime>;
  rules(): Rules;
  /** `app.ready`: started and no stop requested. */
  appReady(): boolean;
  /** A stop was requested. */
  stopping(): boolean;
}

/**
 * The application as its admin server sees it (DESIGN §11): the `/ls` description, offline and
 * online without stopping, readiness and one provider's weight. Held in the application's
 * container under `ADMIN`; starts and closes the `qos` extension when `qos:` is configured.
 * Scope: one per application; event loop only.
 */
export class AppAdmin implements Admin {
  readonly application: string;
  private readonly offlineKeys = new Set<string>();
  private server: QosServer | undefined;
  private closed = false;
  /** One offline/online at a time, so two requests never interleave their register/unregister. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: AdminHost) {
    this.application = host.config.application.name;
  }

  get config(): QosConfig {
    return this.host.config.qos ?? { port: 0 };
  }

  get live(): boolean {
    return !this.closed;
  }

  get ready(): boolean {
    if (!this.host.appReady()) return false;
    const services = this.host.exporter.services;
    return services.length === 0 || services.some((s) => !this.offlineKeys.has(s.serviceKey));
  }

  /** Whether `offline()` took this service out (registerAll leaves it out too). */
  isOffline(serviceKey: string): boolean {
    return this.offlineKeys.has(serviceKey);
  }

  describe(): AppDescription {
    const registered = new Set(this.host.registered.map((u) => u.toString()));
    return {
      application: this.application,
      services: this.host.exporter.services.map((s) => {
        const urls = this.host.exporter.exportedUrls(s).map((u) => u.toString());
        return {
          interface: s.config.interface,
          version: s.config.version ?? '',
          group: s.config.group ?? '',
          urls,
          online: !this.offlineKeys.has(s.serviceKey) && (this.host.registries() === null || urls.some((u) => registered.has(u))),
        };
      }),
      references: [...this.host.references()].map((r) => ({
        id: r.id,
        interface: r.config.interface,
        version: r.version,
        group: r.group,
        providers: r.directory.all().map((inv) => ({
          url: inv.url.toString(),
          address: inv.url.address,
          weight: inv.url.getNumber('weight', DEFAULT_WEIGHT),
          available: inv.isAvailable?.() ?? true,
        })),
      })),
    };
  }

  offline(iface?: string): Promise<string[]> {
    return this.serial(async () => {
      const services = this.select(iface);
      const manager = this.host.registries();
      for (const s of services) {
        this.offlineKeys.add(s.serviceKey);
        for (const url of this.host.exporter.exportedUrls(s)) {
          const i = this.host.registered.findIndex((u) => u.toString() === url.toString());
          if (i < 0) continue;
          this.host.registered.splice(i, 1);
          await manager?.unregister(url);
          this.host.events.emit('service:unregistered', { service: url.serviceKey, url: url.toString() });
        }
      }
      const keys = services.map((s) => s.serviceKey);
      this.host.logger.info(`qos: offline ${keys.join(', ')}`);
      return keys;
    });
  }

  online(iface?: string): Promise<string[]> {
    return this.serial(async () => {
      if (this.host.stopping()) throw QosErrors.STOPPING('go online');
      const services = this.select(iface);
      const manager = this.host.registries();
      for (const s of services) {
        this.offlineKeys.delete(s.serviceKey);
        for (const url of this.host.exporter.exportedUrls(s)) {
          if (this.host.registered.some((u) => u.toString() === url.toString())) continue;
          await manager?.register(url);
          this.host.registered.push(url);
          this.host.events.emit('service:registered', { service: url.serviceKey, url: url.toString() });
        }
      }
      const keys = services.map((s) => s.serviceKey);
      this.host.logger.info(`qos: online ${keys.join(', ')}`);
      return keys;
    });
  }

  async weight(iface: string, address: string, weight: number): Promise<string> {
    if (typeof iface !== 'string' || iface === '') throw QosErrors.BAD_WEIGHT('no interface');
    if (typeof address !== 'string' || !/^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$/.test(address)) {
      throw QosErrors.BAD_WEIGHT(`address must be host:port, got ${JSON.stringify(String(address).slice(0, 100))}`);
    }
    if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
      throw QosErrors.BAD_WEIGHT(`weight must be an integer from 0 to ${MAX_WEIGHT}, got ${JSON.stringify(String(weight).slice(0, 30))}`);
    }
    // One override per provider: a later change replaces the earlier one instead of piling up.
    const id = `qos-weight-${address.replace(/[^A-Za-z0-9]/g, '-')}`;
    await this.host.rules().override({ interface: iface, address, weight, id });
    this.host.logger.info(`qos: weight of ${address} for ${iface} set to ${weight}`);
    return id;
  }

  /** Starts the `qos` extension when `qos:` is configured (during `start()`, before anything is exported). */
  async start(scope: ExtensionScope): Promise<void> {
    if (this.host.config.qos === undefined) return;
    this.server = scope.get<QosServer>('qos', DEFAULT_QOS);
    await this.server.start();
    const where = this.server.address();
    if (where) this.host.logger.info(`qos: admin server on http://${where.host}:${where.port}/`);
  }

  /** Where the admin server listens, once started. */
  address(): { host: string; port: number } | undefined {
    return this.server?.address();
  }

  /** Closes the admin server: the last step of a stop, so `/ready` answers 503 while the stop runs. */
  async close(): Promise<void> {
    this.closed = true;
    await this.server?.close();
  }

  private select(iface: string | undefined): ServiceRuntime[] {
    const all = this.host.exporter.services;
    if (iface === undefined) return all;
    const found = all.filter((s) => s.config.interface === iface);
    if (found.length === 0) {
      const known = [...new Set(all.map((s) => s.config.interface))];
      throw QosErrors.UNKNOWN_SERVICE(iface.slice(0, 200), known, suggest(iface.slice(0, 200), known));
    }
    return found;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
