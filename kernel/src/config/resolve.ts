import * as path from 'node:path';
import type { ErrorObject } from 'ajv';
import { CONFIG_DEFAULTS } from './defaults';
import { readEnvOverrides, type EnvAssignment } from './env';
import { configProblems } from './errors';
import { describeValue, displayFile, formatPath, isPlainObject, leavesOf, type KeyPath } from './key-path';
import { loadConfigFile, type LoadedFile } from './load-file';
import { ConfigMerger, IndexPatch, parseRegistryUrl, type Layer } from './merge';
import { CONSUMER_ONLY, PLUGIN_KEY_PATTERN, PLUGIN_KEYS, PROVIDER_ONLY, validateShape, type ConfigSchemaNode } from './schema';
import { suggest } from '../errors/suggest';
import type { PlexusConfig, PlexusConfigInput, PluginKeyUse } from './types';

/** What {@link resolveConfig} reads. */
export interface ResolveOptions {
  /** A config file path (or folder holding plexus.yaml), or a file already loaded. */
  file?: string | LoadedFile;
  /** `PLEXUS_*` overrides; defaults to `process.env`. Pass `{}` to ignore the environment. */
  env?: NodeJS.ProcessEnv;
  /** Config given in code; wins over the environment and the file. */
  code?: PlexusConfigInput;
}

/**
 * Builds the normalised config from defaults < file < `PLEXUS_*` environment < code, validates it
 * against the schema and records the source of every leaf in `sources`. Throws one
 * PLEXUS_ERR_CONFIG_INVALID listing every problem (file:line or variable name, key path, what is
 * wrong). Runs once at startup; nothing here is on the call path.
 */
export function resolveConfig(options: ResolveOptions = {}): PlexusConfig {
  const loaded = typeof options.file === 'string' ? loadConfigFile(options.file) : options.file;
  const { baseDir, ...code } = options.code ?? {};
  const env = readEnvOverrides(options.env ?? process.env, [loaded?.data, code]);

  const merger = new ConfigMerger();
  if (loaded) merger.apply(fileLayer(loaded));
  merger.apply(envLayer(env.assignments));
  merger.apply(codeLayer(code));

  const problems: Problem[] = env.problems.map((p) => ({ order: `1:${p.variable}`, text: p.message }));
  for (const p of merger.problems) problems.push(problemAt(merger, p.targetPath, p.message, p.origin));
  fixRegistryAddress(merger, problems);
  const shapeErrors = validateShape(merger.data);
  const pluginKeys: PluginKeyUse[] = [];
  for (const error of shapeErrors) {
    const use = pluginKeyUse(error, merger);
    if (use) pluginKeys.push(use);
    else problems.push(fromAjv(error, merger));
  }
  if (shapeErrors.length === 0) crossCheck(merger, problems);
  if (problems.length > 0) throw configProblems('INVALID', sortProblems(problems));

  normalise(merger, loaded?.path);
  const config = assemble(merger, loaded, baseDir);
  if (pluginKeys.length > 0) config.pluginKeys = pluginKeys;
  return config;
}

/**
 * A key of DESIGN §5 that a plugin reads (`tps`, `token`, ...) at a call level: not the kernel's to
 * accept or refuse. Recorded, and checked when the application starts, against the plugins that
 * claim keys.
 */
function pluginKeyUse(error: ErrorObject, merger: ConfigMerger): PluginKeyUse | undefined {
  if (error.keyword !== 'additionalProperties') return undefined;
  const schema = (error.parentSchema ?? {}) as ConfigSchemaNode;
  if (schema.patternProperties?.[PLUGIN_KEY_PATTERN] === undefined) return undefined;
  const key = String((error.params as Record<string, unknown>).additionalProperty);
  if (!Object.prototype.hasOwnProperty.call(PLUGIN_KEYS, key)) return undefined;
  const at = [...pointerToPath(error.instancePath, merger.data), key];
  return { key, at: problemAt(merger, at, '').text.trim() };
}

interface Problem {
  order: string;
  text: string;
}

/** One problem line about a merged key, introduced the way the user wrote it (file:line, variable, code). */
function problemAt(merger: ConfigMerger, target: KeyPath, what: string, origin = merger.originOf(target)): Problem {
  if (!origin?.layer) return { order: '3', text: `${formatPath(target) || 'the config'} ${what}` };
  const userPath = ConfigMerger.userPath(origin, target);
  return { order: origin.layer.order(userPath), text: `${origin.layer.subject(userPath)} ${what}` };
}

function fileLayer(loaded: LoadedFile): Layer {
  const shown = displayFile(loaded.path);
  const position = (p: KeyPath) => {
    for (let n = p.length; n >= 0; n--) {
      const at = loaded.positionOf(p.slice(0, n));
      if (at) return at;
    }
    return undefined;
  };
  const describe = (p: KeyPath) => {
    const at = position(p);
    return at ? `${shown}:${at.line}:${at.column}` : shown;
  };
  return {
    source: 'file',
    data: loaded.data,
    describe,
    subject: (p) => `${describe(p)} ${formatPath(p) || 'the top level'}`,
    order: (p) => {
      const at = position(p);
      return `0:${String(at?.line ?? 0).padStart(8, '0')}:${String(at?.column ?? 0).padStart(8, '0')}`;
    },
  };
}

function envLayer(assignments: readonly EnvAssignment[]): Layer {
  const data: Record<string, unknown> = {};
  const variables = new Map<string, string>();
  for (const { variable, path: keyPath, value } of assignments) {
    setPath(data, keyPath, value);
    variables.set(formatPath(keyPath), variable);
  }
  const find = (p: KeyPath): { variable: string; depth: number } | undefined => {
    for (let n = p.length; n >= 0; n--) {
      const variable = variables.get(formatPath(p.slice(0, n)));
      if (variable) return { variable, depth: n };
    }
    // A list position that could not be set is named by the variable that tried to set below it.
    const prefix = formatPath(p);
    for (const [at, variable] of variables) if (at.startsWith(prefix)) return { variable, depth: p.length };
    return undefined;
  };
  return {
    source: 'env',
    data,
    describe: (p) => find(p)?.variable,
    subject: (p) => {
      const found = find(p);
      if (!found) return formatPath(p);
      return found.depth === p.length ? found.variable : `${found.variable}: ${formatPath(p)}`;
    },
    order: (p) => `1:${find(p)?.variable ?? ''}`,
  };
}

function codeLayer(data: Record<string, unknown>): Layer {
  return {
    source: 'code',
    data,
    describe: () => undefined,
    subject: (p) => `${formatPath(p) || 'the config'} (set in code)`,
    order: (p) => `2:${formatPath(p)}`,
  };
}

/** Writes an environment value into the env layer; list positions become an {@link IndexPatch}. */
function setPath(root: Record<string, unknown>, keyPath: KeyPath, value: unknown): void {
  let node: unknown = root;
  for (let n = 0; n < keyPath.length; n++) {
    const seg = keyPath[n];
    const last = n === keyPath.length - 1;
    const nextIsIndex = !last && typeof keyPath[n + 1] === 'number';
    if (node instanceof IndexPatch) {
      const index = seg as number;
      if (last) node.items.set(index, value);
      else if (!node.items.has(index) || typeof node.items.get(index) !== 'object') node.items.set(index, nextIsIndex ? new IndexPatch() : {});
      node = node.items.get(index);
    } else {
      const holder = node as Record<string | number, unknown>;
      if (last) holder[seg] = value;
      else if (typeof holder[seg] !== 'object' || holder[seg] === null) holder[seg] = nextIsIndex ? new IndexPatch() : {};
      node = holder[seg];
    }
  }
}

/** Dubbo writes `registry: { address: zookeeper://host:port }`; take the type from the URL. */
function fixRegistryAddress(merger: ConfigMerger, problems: Problem[]): void {
  const registry = merger.data.registry;
  if (!isPlainObject(registry) || typeof registry.address !== 'string') return;
  const parsed = parseRegistryUrl(registry.address);
  if (!parsed) return;
  if (registry.type !== undefined && registry.type !== parsed.type) {
    problems.push(
      problemAt(
        merger,
        ['registry', 'address'],
        `is a ${String(parsed.type)} URL, but registry.type is ${JSON.stringify(registry.type)}; write one of them`,
      ),
    );
    return;
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'address' || registry[key] === undefined) merger.derive(['registry', key], value, ['registry', 'address']);
  }
  if (parsed.address === undefined) delete registry.address;
}

const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  integer: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

/** Turns one ajv error into one line: where (file:line or variable), the key path, what is wrong. */
function fromAjv(error: ErrorObject, merger: ConfigMerger): Problem {
  const at = pointerToPath(error.instancePath, merger.data);
  const schema = (error.parentSchema ?? {}) as ConfigSchemaNode;
  const params = error.params as Record<string, unknown>;
  const got = `(got ${describeValue(error.data)})`;
  let target = at;
  let what: string;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      target = [...at, key];
      const known = Object.keys(schema.properties ?? {});
      const near = suggest(key, known);
      const pluginLevel = schema.patternProperties?.[PLUGIN_KEY_PATTERN] !== undefined;
      what = 'is not a known key';
      if (PROVIDER_ONLY.includes(key) && (at[0] === 'consumer' || at[0] === 'references')) what = 'is read by providers only (a service or `provider:`); on a consumer it would do nothing';
      else if (CONSUMER_ONLY.includes(key) && (at[0] === 'provider' || at[0] === 'services')) what = 'is read by consumers only (a reference or `consumer:`); on a provider it would do nothing';
      else if (near) what += ` (did you mean "${near}"?)`;
      else if (!pluginLevel && known.length <= 12) what += ` (known keys: ${known.join(', ')})`;
      else if (pluginLevel) what += ` (a plugin's own key needs a dot, e.g. "myplugin.${key}"; docs/reference/config.md lists the built-in keys)`;
      else what += ' (docs/reference/config.md lists the keys)';
      break;
    }
    case 'required':
      target = [...at, String(params.missingProperty)];
      what = 'is required';
      break;
    case 'type': {
      const types = Array.isArray(params.type) ? (params.type as string[]) : String(params.type).split(',');
      what = schema.plexusMessage ?? `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}`;
      what += ` ${got}`;
      break;
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const near = typeof error.data === 'string' ? suggest(error.data, allowed) : undefined;
      what = `must be one of ${allowed.join(', ')} ${got}${near ? ` (did you mean "${near}"?)` : ''}`;
      break;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      what = `must be ${String(params.comparison)} ${String(params.limit)} ${got}`;
      break;
    case 'minLength':
      what = params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters ${got}`;
      break;
    case 'pattern':
      what = `${schema.plexusMessage ?? `must match ${String(params.pattern)}`} ${got}`;
      break;
    default:
      what = `${error.message ?? 'is not valid'} ${got}`;
  }
  return problemAt(merger, target, what);
}

function pointerToPath(pointer: string, data: unknown): KeyPath {
  const out: (string | number)[] = [];
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key = Array.isArray(node) ? Number(seg) : seg;
    out.push(key);
    node = (node as Record<string | number, unknown> | undefined)?.[key];
  }
  return out;
}

/** Checks that span keys, once each key is known to have the right shape. */
function crossCheck(merger: ConfigMerger, problems: Problem[]): void {
  const data = merger.data as { protocols?: Record<string, unknown>[]; services?: Record<string, unknown>[] };
  const report = (target: KeyPath, what: string) => problems.push(problemAt(merger, target, what));
  const seen = new Map<string, number>();
  const protocols = data.protocols ?? [];
  protocols.forEach((p, n) => {
    const name = typeof p.name === 'string' ? p.name : CONFIG_DEFAULTS.protocol.name;
    const first = seen.get(name);
    if (first !== undefined) report(['protocols', n], `repeats the protocol "${name}" of protocols[${first}]; give each protocol its own name`);
    else seen.set(name, n);
  });
  const available = protocols.length > 0 ? [...seen.keys()] : [CONFIG_DEFAULTS.protocol.name];
  (data.services ?? []).forEach((s, n) => {
    const wanted = typeof s.protocol === 'string' ? splitList(s.protocol) : ((s.protocol as string[] | undefined) ?? []);
    for (const name of wanted) {
      if (available.includes(name)) continue;
      const near = suggest(name, available);
      report(
        ['services', n, 'protocol'],
        `names protocol "${name}", which is not configured (protocols: ${available.join(', ')})${near ? `; did you mean "${near}"?` : ''}`,
      );
    }
  });
}

function sortProblems(problems: readonly Problem[]): string[] {
  const sorted = [...problems].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  return [...new Set(sorted.map((p) => p.text))];
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Defaults, and the one form of each key that has two (`filter: "a,-b"` → `['a', '-b']`). */
function normalise(merger: ConfigMerger, file: string | undefined): void {
  const data = merger.data;
  delete data.$schema;
  merger.setDefault(['application', 'name'], defaultApplicationName(file));
  merger.setDefault(['plugins'], []);

  if (!Array.isArray(data.protocols) || data.protocols.length === 0) {
    delete data.protocols;
    merger.setDefault(['protocols'], []);
  }
  const protocols = data.protocols as Record<string, unknown>[];
  const count = Math.max(1, protocols.length);
  for (let n = 0; n < count; n++) {
    merger.setDefault(['protocols', n, 'name'], CONFIG_DEFAULTS.protocol.name);
    const p = protocols[n];
    if (p.path === undefined && p.name !== 'injvm') merger.setDefault(['protocols', n, 'host'], CONFIG_DEFAULTS.host);
    if (p.name === 'plexus') {
      if (p.path === undefined) merger.setDefault(['protocols', n, 'port'], CONFIG_DEFAULTS.plexusProtocol.port);
      merger.setDefault(['protocols', n, 'serializer'], CONFIG_DEFAULTS.plexusProtocol.serializer);
      merger.setDefault(['protocols', n, 'compressor'], CONFIG_DEFAULTS.plexusProtocol.compressor);
    }
  }

  for (const [key, value] of Object.entries(CONFIG_DEFAULTS.provider)) merger.setDefault(['provider', key], value);
  for (const [key, value] of Object.entries(CONFIG_DEFAULTS.consumer)) merger.setDefault(['consumer', key], value);
  merger.setDefault(['services'], []);
  merger.setDefault(['references'], {});
  merger.setDefault(['extensions'], {});
  if (isPlainObject(data.qos)) merger.setDefault(['qos', 'host'], CONFIG_DEFAULTS.qos.host);

  const lists = (level: unknown, at: KeyPath, keys: readonly string[]) => {
    if (!isPlainObject(level)) return;
    for (const key of keys) if (typeof level[key] === 'string') merger.replace([...at, key], splitList(level[key] as string));
    if (isPlainObject(level.methods)) {
      for (const [method, settings] of Object.entries(level.methods)) lists(settings, [...at, 'methods', method], ['filter']);
    }
  };
  lists(data.provider, ['provider'], ['filter']);
  lists(data.consumer, ['consumer'], ['filter', 'router']);
  (data.services as unknown[]).forEach((s, n) => lists(s, ['services', n], ['filter', 'protocol', 'expose']));
  for (const [id, r] of Object.entries(data.references as Record<string, unknown>)) {
    lists(r, ['references', id], ['filter', 'router']);
    // A reference's group list travels as one comma string (what its directory and service key read).
    if (isPlainObject(r) && Array.isArray(r.group)) merger.replace(['references', id, 'group'], r.group.map(String).join(','));
  }
}

/**
 * `greeter.yaml` → `greeter`; the conventional `plexus.yaml` says nothing, so its folder names the
 * application (`examples/greeter/plexus.yaml` → `greeter`).
 */
function defaultApplicationName(file: string | undefined): string {
  if (!file) return CONFIG_DEFAULTS.applicationName;
  let name = path.basename(file).replace(/\.(ya?ml|json)$/i, '').replace(/\.plexus$/i, '');
  if (name.toLowerCase() === 'plexus' || name === '') name = path.basename(path.dirname(file));
  return name || CONFIG_DEFAULTS.applicationName;
}

function assemble(merger: ConfigMerger, loaded: LoadedFile | undefined, baseDir: string | undefined): PlexusConfig {
  const data = merger.data;
  const sources: PlexusConfig['sources'] = {};
  const origins: Record<string, string> = {};
  for (const leaf of leavesOf(data, [])) {
    const key = formatPath(leaf);
    const origin = merger.originOf(leaf);
    sources[key] = origin?.source ?? 'default';
    const where = origin?.layer?.describe(ConfigMerger.userPath(origin, leaf));
    if (where) origins[key] = where;
  }
  const config: Record<string, unknown> = {};
  for (const key of ['application', 'logLevel', 'plugins', 'registry', 'registries', 'qos', 'protocols', 'provider', 'consumer', 'services', 'references', 'extensions']) {
    if (data[key] !== undefined) config[key] = data[key];
  }
  config.baseDir = baseDir !== undefined ? path.resolve(baseDir) : loaded ? path.dirname(loaded.path) : process.cwd();
  if (loaded) config.file = loaded.path;
  config.sources = sources;
  config.origins = origins;
  return config as unknown as PlexusConfig;
}
