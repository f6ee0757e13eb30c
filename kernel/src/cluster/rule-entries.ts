import { createHash } from 'node:crypto';
import { suggest } from '../errors/suggest';
import type { PlexusError } from '../errors/plexus-error';
import type { RouteRule } from '../spi/router';
import { URL } from '../url/url';
import { RuleErrors } from './rule-errors';

/**
 * Dynamic rules as registry entries (Dubbo's routers/configurators URLs), parsed and checked.
 *
 *   route://0.0.0.0/<interface>?category=routers&id=<id>&router=<name>&rule=<body>
 *          [&priority=0][&force=false][&enabled=true][&timestamp=<ms>][&version=][&group=][&application=]
 *   override://<0.0.0.0 | host | host:port>/<interface>?category=configurators&id=<id>
 *          [&weight=<n>][&disabled=true|false][&timeout=<ms>][&retries=<n>][&<method>.timeout=][&<method>.retries=]
 *          [&enabled=true][&timestamp=<ms>][&version=][&group=][&application=]
 *
 * `docs/guide/dynamic-rules.md` is the user's description of these shapes; keep the two in step.
 */

/** Which references an entry applies to; an absent key matches every reference. */
export interface RuleScope {
  readonly version?: string;
  readonly group?: string;
  /** The consumer application's name. */
  readonly application?: string;
}

/** Call settings an override may set, for the whole reference or one method. */
export interface SettingsPatch {
  timeout?: number;
  retries?: number;
}

/** A routing rule read from a `routers` entry. */
export interface RouteEntry {
  readonly kind: 'route';
  readonly id: string;
  readonly iface: string;
  readonly rule: RouteRule;
  readonly scope: RuleScope;
  readonly timestamp: number;
  readonly url: URL;
}

/** An override read from a `configurators` entry. */
export interface OverrideEntry {
  readonly kind: 'override';
  readonly id: string;
  readonly iface: string;
  readonly enabled: boolean;
  /** `*` (0.0.0.0: every provider), a host (every port of it) or `host:port`. */
  readonly address: string;
  /** The provider host it is for; undefined for every provider. */
  readonly host?: string;
  /** The provider port it is for; 0 = every port of `host`. */
  readonly port: number;
  readonly weight?: number;
  readonly disabled?: boolean;
  readonly service: Readonly<SettingsPatch>;
  readonly methods: Readonly<Record<string, Readonly<SettingsPatch>>>;
  readonly scope: RuleScope;
  readonly timestamp: number;
  readonly url: URL;
}

export type RuleEntry = RouteEntry | OverrideEntry;

/** Outcome of reading one entry: the rule, or why it was refused (with the id it claims, so the old rule of that id can stay). */
export type ParsedEntry = { ok: true; entry: RuleEntry } | { ok: false; id: string; iface: string; error: PlexusError };

/** Longest rule body accepted, in characters: rule text is small; a bigger one is someone else's data. */
export const MAX_RULE_BODY = 16 * 1024;
/** Largest `retries` an override may set: one call must not turn into thousands of attempts. */
export const MAX_OVERRIDE_RETRIES = 100;
/** Largest `weight` an override may set (Dubbo's weights are in the hundreds; this leaves room). */
export const MAX_OVERRIDE_WEIGHT = 1_000_000;
/** Largest `timeout` an override may set, ms (one day). */
export const MAX_OVERRIDE_TIMEOUT = 86_400_000;

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const ROUTER_NAME = /^[a-z][a-z0-9-]{0,63}$/;
const METHOD = /^[A-Za-z_$][\w$]{0,127}$/;
const WILDCARD_HOSTS = new Set(['0.0.0.0', '*', '']);

/** Params every entry may carry. `dynamic` is Dubbo's and means nothing here; it is accepted so Dubbo-written entries parse. */
const COMMON_KEYS = ['category', 'id', 'enabled', 'timestamp', 'version', 'group', 'application', 'dynamic'];
const ROUTE_KEYS = [...COMMON_KEYS, 'router', 'rule', 'priority', 'force'];
const OVERRIDE_SETTINGS = ['weight', 'disabled', 'timeout', 'retries'];
const OVERRIDE_KEYS = [...COMMON_KEYS, ...OVERRIDE_SETTINGS];
const METHOD_SETTINGS = ['timeout', 'retries'];

/** The id an entry is known by: its `id` param, else a stable hash of the whole entry. */
export function entryId(url: URL): string {
  const id = url.params.id;
  if (id !== undefined && id !== '') return id;
  return `${url.protocol === 'override' ? 'override' : 'route'}-${createHash('sha1').update(url.toString()).digest('hex').slice(0, 12)}`;
}

/** True for entries of the categories that hold rules. */
export function isRuleCategory(category: string): boolean {
  return category === 'routers' || category === 'configurators';
}

class Problem extends Error {}

function fail(problem: string): never {
  throw new Problem(problem);
}

function bool(url: URL, key: string, fallback: boolean): boolean {
  const v = url.params[key];
  if (v === undefined || v === '') return fallback;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fail(`${key} must be true or false, got ${JSON.stringify(v)}`);
}

function integer(url: URL, key: string, min: number, max: number): number | undefined {
  const v = url.params[key];
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d{1,16}$/.test(v)) return fail(`${key} must be an integer, got ${JSON.stringify(v.slice(0, 40))}`);
  const n = Number(v);
  if (n < min || n > max) return fail(`${key} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function scopeOf(url: URL): RuleScope {
  const out: { version?: string; group?: string; application?: string } = {};
  for (const k of ['version', 'group', 'application'] as const) {
    const v = url.params[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

function checkKeys(url: URL, allowed: readonly string[], methodKeys: boolean): void {
  for (const key of Object.keys(url.params)) {
    if (allowed.includes(key)) continue;
    if (key.length > 160) fail(`a key of ${key.length} characters is not a rule key`);
    const dot = key.lastIndexOf('.');
    if (methodKeys && dot > 0) {
      const method = key.slice(0, dot);
      const setting = key.slice(dot + 1);
      if (!METHOD.test(method)) fail(`"${method}" in "${key}" is not a method name`);
      if (!METHOD_SETTINGS.includes(setting)) {
        const near = suggest(setting, METHOD_SETTINGS);
        fail(`"${key}": a method override may set only ${METHOD_SETTINGS.join(' and ')}${near ? ` (did you mean "${method}.${near}"?)` : ''}`);
      }
      continue;
    }
    const near = suggest(key, allowed.filter((k) => k !== 'dynamic'));
    fail(`unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.filter((k) => k !== 'dynamic').join(', ')}${methodKeys ? ', <method>.timeout, <method>.retries' : ''}`);
  }
}

function parseRoute(url: URL): RouteEntry {
  if (!WILDCARD_HOSTS.has(url.host)) fail(`a route entry is written for every provider: its address must be 0.0.0.0, got ${url.address}`);
  checkKeys(url, ROUTE_KEYS, false);
  const router = url.params.router ?? '';
  if (!ROUTER_NAME.test(router)) fail(router === '' ? 'router is missing (condition, tag, or a plugin router name)' : `router ${JSON.stringify(router.slice(0, 70))} is not a router name`);
  const body = url.params.rule ?? '';
  if (body.trim() === '') fail('rule is missing or empty');
  if (body.length > MAX_RULE_BODY) fail(`rule is ${body.length} characters, over the ${MAX_RULE_BODY} accepted`);
  const id = entryId(url);
  const rule: RouteRule = Object.freeze({
    id,
    router,
    body,
    priority: integer(url, 'priority', -1_000_000, 1_000_000) ?? 0,
    force: bool(url, 'force', false),
    enabled: bool(url, 'enabled', true),
  });
  return { kind: 'route', id, iface: url.path, rule, scope: scopeOf(url), timestamp: integer(url, 'timestamp', 0, Number.MAX_SAFE_INTEGER) ?? 0, url };
}

function parseOverride(url: URL): OverrideEntry {
  checkKeys(url, OVERRIDE_KEYS, true);
  const wildcard = WILDCARD_HOSTS.has(url.host);
  const address = wildcard ? '*' : url.address;
  const service: SettingsPatch = {};
  const methods: Record<string, SettingsPatch> = Object.create(null);
  const timeout = integer(url, 'timeout', 0, MAX_OVERRIDE_TIMEOUT);
  const retries = integer(url, 'retries', 0, MAX_OVERRIDE_RETRIES);
  if (timeout !== undefined) service.timeout = timeout;
  if (retries !== undefined) service.retries = retries;
  for (const key of Object.keys(url.params)) {
    const dot = key.lastIndexOf('.');
    if (dot <= 0) continue;
    const method = key.slice(0, dot);
    const setting = key.slice(dot + 1) as keyof SettingsPatch;
    const value = setting === 'timeout' ? integer(url, key, 0, MAX_OVERRIDE_TIMEOUT) : integer(url, key, 0, MAX_OVERRIDE_RETRIES);
    if (value !== undefined) (methods[method] ??= {})[setting] = value;
  }
  const weight = integer(url, 'weight', 0, MAX_OVERRIDE_WEIGHT);
  const disabledParam = url.params.disabled;
  const disabled = disabledParam === undefined || disabledParam === '' ? undefined : bool(url, 'disabled', false);
  const setsCallSettings = Object.keys(service).length > 0 || Object.keys(methods).length > 0;
  if (!wildcard && setsCallSettings) {
    fail(`timeout and retries are settings of the whole reference: write them on 0.0.0.0, not on the provider ${address}`);
  }
  if (weight === undefined && disabled === undefined && !setsCallSettings) fail('it sets nothing: give weight, disabled, timeout, retries or <method>.timeout/<method>.retries');
  return {
    kind: 'override',
    id: entryId(url),
    iface: url.path,
    enabled: bool(url, 'enabled', true),
    address,
    ...(wildcard ? {} : { host: url.host }),
    port: wildcard ? 0 : url.port,
    ...(weight !== undefined ? { weight } : {}),
    ...(disabled !== undefined ? { disabled } : {}),
    service,
    methods,
    scope: scopeOf(url),
    timestamp: integer(url, 'timestamp', 0, Number.MAX_SAFE_INTEGER) ?? 0,
    url,
  };
}

/**
 * Reads one `routers` or `configurators` entry. Never throws: a malformed entry comes back with a
 * coded error (PLEXUS_ERR_RULE_MALFORMED) and the id it claims.
 */
export function parseRuleEntry(url: URL): ParsedEntry {
  const shown = url.toString();
  const short = shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
  try {
    const id = url.params.id;
    if (id !== undefined && id !== '' && !ID.test(id)) fail(`id ${JSON.stringify(id.slice(0, 140))} must be 1-128 letters, digits or . _ : @ - (starting with a letter or digit)`);
    if (!url.path) fail('the interface (URL path) is missing');
    const category = url.params.category;
    if (url.protocol === 'route') {
      if (category !== undefined && category !== 'routers') fail(`a route entry belongs in category routers, not ${category}`);
      return { ok: true, entry: parseRoute(url) };
    }
    if (url.protocol === 'override') {
      if (category !== undefined && category !== 'configurators') fail(`an override entry belongs in category configurators, not ${category}`);
      return { ok: true, entry: parseOverride(url) };
    }
    return fail(`the scheme must be route:// (routing rules) or override:// (overrides), got ${url.protocol}://`);
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    return { ok: false, id: entryId(url), iface: url.path, error: RuleErrors.MALFORMED(short, err.message) };
  }
}

/** Whether an entry scoped by `scope` applies to the reference whose consumer URL is `consumer`. */
export function scopeMatches(scope: RuleScope, consumer: URL): boolean {
  if (scope.application !== undefined && scope.application !== consumer.params.application) return false;
  const version = consumer.params.version ?? '';
  if (scope.version !== undefined && version !== '*' && scope.version !== version) return false;
  if (scope.group !== undefined) {
    const groups = (consumer.params.group ?? '').split(',').map((g) => g.trim());
    if (!groups.includes('*') && !groups.includes(scope.group)) return false;
  }
  return true;
}

/** Whether override `entry` applies to the provider at `url`. */
export function addressMatches(entry: OverrideEntry, url: URL): boolean {
  if (entry.host === undefined) return true;
  return entry.host === url.host && (entry.port === 0 || entry.port === url.port);
}

/** How specific an override's address is: every provider 0, a host 1, host:port 2 (more specific applies later, so it wins). */
export function specificity(entry: OverrideEntry): number {
  if (entry.host === undefined) return 0;
  return entry.port === 0 ? 1 : 2;
}
