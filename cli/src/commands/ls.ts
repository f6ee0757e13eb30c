import { Command, Option } from 'commander';
import { TOKENS, type Plexus } from '@plexus/kernel';
import { URL, categoryOf } from '@plexus/kernel/spi';
import { intOption } from '../args';
import { CliErrors } from '../errors';
import { table } from '../format';
import { closeApp, openApp, within, type TargetOptions } from '../target';
import type { Io } from '../io';

/** Default budget of the whole listing, ms. */
export const DEFAULT_LS_TIMEOUT = 5000;
/** Interfaces read at most: a registry holding more is summarised, not walked entirely. */
export const MAX_LS_INTERFACES = 2000;

export interface LsOptions extends TargetOptions {
  json?: boolean;
  timeout: number;
}

/** One provider or consumer entry, as `ls` reports it. */
export interface LsEntry {
  address: string;
  version?: string;
  group?: string;
  application?: string;
  serializer?: string;
  weight?: string;
  pid?: string;
  url: string;
}

/** One interface, as `ls` reports it. */
export interface LsService {
  interface: string;
  providers: LsEntry[];
  consumers: LsEntry[];
  /** Routing rules and overrides stored for it (`plexus rule ls` shows them). */
  rules: number;
}

export interface LsReport {
  registries: string[];
  services: LsService[];
  /** Interfaces left out because of MAX_LS_INTERFACES. */
  omitted?: number;
}

interface RegistryHandle {
  get(): { registries: ReadonlyArray<{ address: string; backend: { services?(): Promise<string[]>; lookup?(url: URL): Promise<URL[]> } }> } | null;
}

export function lsCommand(io: Io): Command {
  return new Command('ls')
    .description('list the services a registry knows, with their providers (address, version, group) and consumers')
    .option('--registry <registry>', 'the registry to read: local:///abs/dir, zookeeper://host:port, ... (default: the local registry in its default folder)')
    .option('--config <file>', 'read the registries of this config file')
    .option('--json', 'print one JSON object instead of a table')
    .addOption(new Option('--timeout <ms>', 'the budget of the whole listing').default(DEFAULT_LS_TIMEOUT).argParser(intOption('--timeout', 1, 3_600_000)))
    .addHelpText(
      'after',
      `
Examples:
  $ plexus ls --registry local:///tmp/plexus-registry
  $ plexus ls --registry zookeeper://127.0.0.1:2181 --json
  $ plexus ls --config plexus.yaml`,
    )
    .action(async (options: LsOptions) => {
      const report = await runLs(options);
      io.out(options.json ? JSON.stringify(report) : formatLs(report));
    });
}

/** Reads every registry of the target once. */
export async function runLs(options: LsOptions): Promise<LsReport> {
  const app = await openApp(options, false);
  try {
    return await within(readRegistries(app), options.timeout, 'listing the registry');
  } finally {
    await closeApp(app);
  }
}

async function readRegistries(app: Plexus): Promise<LsReport> {
  const manager = app.container.resolve<RegistryHandle>(TOKENS.registries).get();
  if (!manager || manager.registries.length === 0) throw CliErrors.BAD_TARGET('the config names no registry (registry: none)');
  const byInterface = new Map<string, LsService>();
  let omitted = 0;
  for (const r of manager.registries) {
    const { services, lookup } = r.backend;
    if (!services || !lookup) throw CliErrors.REGISTRY(r.address, 'this registry plugin cannot list its services (it has no services()/lookup())');
    let names: string[];
    try {
      names = await services.call(r.backend);
    } catch (err) {
      throw CliErrors.REGISTRY(r.address, (err as Error)?.message?.split('\n')[0] ?? String(err));
    }
    if (names.length > MAX_LS_INTERFACES) {
      omitted += names.length - MAX_LS_INTERFACES;
      names = names.slice(0, MAX_LS_INTERFACES);
    }
    for (const name of names) {
      let entries: URL[];
      try {
        entries = await lookup.call(r.backend, new URL('consumer', '0.0.0.0', 0, name, { category: 'providers,consumers,routers,configurators' }));
      } catch (err) {
        throw CliErrors.REGISTRY(r.address, `reading ${name}: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`);
      }
      let service = byInterface.get(name);
      if (!service) byInterface.set(name, (service = { interface: name, providers: [], consumers: [], rules: 0 }));
      for (const url of entries) {
        const category = categoryOf(url);
        if (category === 'providers') addEntry(service.providers, url);
        else if (category === 'consumers') addEntry(service.consumers, url);
        else service.rules++;
      }
    }
  }
  const services = [...byInterface.values()].sort((a, b) => (a.interface < b.interface ? -1 : a.interface > b.interface ? 1 : 0));
  const dir = app.config.registry?.dir;
  // The local registry's address is its folder, which the manager does not know when given as `dir`.
  const shown = (address: string) => (address === 'local://' ? `local://${typeof dir === 'string' ? dir : '(default folder)'}` : address);
  return { registries: manager.registries.map((r) => shown(r.address)), services, ...(omitted ? { omitted } : {}) };
}

function addEntry(list: LsEntry[], url: URL): void {
  const text = url.toString();
  if (list.some((e) => e.url === text)) return;
  const p = url.params;
  const entry: LsEntry = { address: `${url.protocol}://${url.address}`, url: text };
  for (const k of ['version', 'group', 'application', 'serializer', 'weight', 'pid'] as const) if (p[k] !== undefined && p[k] !== '') entry[k] = p[k];
  list.push(entry);
}

/** The readable form: one row per provider and consumer, grouped by interface. */
export function formatLs(report: LsReport): string {
  if (report.services.length === 0) return `no services in ${report.registries.join(', ')}`;
  const rows: string[][] = [];
  for (const s of report.services) {
    const first = rows.length;
    for (const e of s.providers) rows.push([s.interface, 'provider', e.address, e.version ?? '', e.group ?? '', e.application ?? '', e.serializer ?? '', e.weight ?? '', e.pid ?? '']);
    for (const e of s.consumers) rows.push([s.interface, 'consumer', e.address, e.version ?? '', e.group ?? '', e.application ?? '', '', '', e.pid ?? '']);
    if (rows.length === first) rows.push([s.interface, '-', '(no providers or consumers)', '', '', '', '', '', '']);
    if (s.rules > 0) rows[first][0] = `${s.interface} (${s.rules} rule${s.rules > 1 ? 's' : ''})`;
  }
  const summary = `${report.services.length} service(s), ${report.services.reduce((n, s) => n + s.providers.length, 0)} provider(s), ${report.services.reduce((n, s) => n + s.consumers.length, 0)} consumer(s) in ${report.registries.join(', ')}`;
  const tail = report.omitted ? `\n${report.omitted} more interface(s) not shown` : '';
  return `${table(['INTERFACE', 'KIND', 'ADDRESS', 'VERSION', 'GROUP', 'APPLICATION', 'SERIALIZER', 'WEIGHT', 'PID'], rows)}\n${summary}${tail}`;
}
