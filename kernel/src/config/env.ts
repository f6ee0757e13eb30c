import { configSchema, deref, type ConfigSchemaNode } from './schema';
import { isPlainObject, type KeyPath } from './key-path';
import { levenshtein, suggest } from '../errors/suggest';

/**
 * `PLEXUS_*` environment overrides. A variable names a key path upper-cased with `_` between
 * segments; the schema decides where one key ends, so camelCase keys may be written with or
 * without underscores (`PLEXUS_CONSUMER_COMPRESS_THRESHOLD` = `PLEXUS_CONSUMER_COMPRESSTHRESHOLD`).
 */

/** One variable that sets one key. `path` is in the shape users write (`protocol.port`, `services[0].weight`). */
export interface EnvAssignment {
  readonly variable: string;
  readonly path: KeyPath;
  readonly value: unknown;
}

/** What the environment contributes: assignments, variables that are not config, and mistakes. */
export interface EnvOverrides {
  /** Ordered so that a broader variable (`PLEXUS_CONSUMER='{...}'`) is applied before a narrower one. */
  readonly assignments: readonly EnvAssignment[];
  /** `PLEXUS_*` variables whose first word is no top-level key (`PLEXUS_CONFIG`, `PLEXUS_HOME`): not config, left alone. */
  readonly ignored: readonly string[];
  /** Lines such as `PLEXUS_CONSUMER_TIMOUT is not a config key (did you mean PLEXUS_CONSUMER_TIMEOUT?)`. */
  readonly problems: readonly EnvProblem[];
}

/** A mistake in one variable. */
export interface EnvProblem {
  readonly variable: string;
  readonly message: string;
}

const PREFIX = 'PLEXUS_';

/**
 * The `protocol` shorthand is validated as `protocols[n]` after merging, but the environment names
 * it directly, so it walks like a protocol entry.
 */
const WALK_ALIASES: Record<string, ConfigSchemaNode | undefined> = {
  protocol: configSchema.properties?.protocols?.items,
};

/**
 * Reads `PLEXUS_*` variables into assignments. `existing` holds the other layers' data (file, code):
 * names chosen by users (reference ids, method names, plugin option keys) are matched against
 * them so their case survives; a new one is camel-cased from the words of the variable.
 * Empty values count as unset.
 */
export function readEnvOverrides(env: NodeJS.ProcessEnv, existing: readonly unknown[] = []): EnvOverrides {
  const assignments: EnvAssignment[] = [];
  const ignored: string[] = [];
  const problems: EnvProblem[] = [];
  const top = configSchema.properties ?? {};
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(PREFIX)) continue;
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    const words = variable.slice(PREFIX.length).split('_').filter((w) => w !== '');
    if (!Object.keys(top).some((k) => matchKey(k, words, 0) !== undefined)) {
      ignored.push(variable);
      continue;
    }
    const failure: Failure = { depth: -1, prefix: '', candidates: [] };
    const json = /^\s*[[{]/.test(raw);
    const found = walk(configSchema, words, 0, existing, PREFIX.slice(0, -1), failure, json);
    if (!found) {
      const near = nearestVariable(words, failure);
      problems.push({
        variable,
        message: `${variable} is not a config key${near ? ` (did you mean ${near}?)` : ''}`,
      });
      continue;
    }
    const coerced = coerce(raw, found.schema);
    if (coerced.error) problems.push({ variable, message: `${variable} ${coerced.error}` });
    else assignments.push({ variable, path: found.path, value: coerced.value });
  }
  assignments.sort((a, b) => a.path.length - b.path.length);
  return { assignments, ignored, problems };
}

interface Found {
  path: (string | number)[];
  schema: ConfigSchemaNode | undefined;
}

/** The deepest level where no key matched, for the "did you mean". */
interface Failure {
  depth: number;
  /** The variable's name up to that level: `PLEXUS_CONSUMER`. */
  prefix: string;
  /** The keys known there. */
  candidates: string[];
}

/**
 * The variable the user probably meant: the words at the failing level replaced by the nearest
 * known key, the rest kept (`PLEXUS_EXTENSIONS_LOADBALANCER_P2C_X` → `..._LOADBALANCE_P2C_X`).
 */
function nearestVariable(words: readonly string[], failure: Failure): string | undefined {
  let best: { distance: number; name: string } | undefined;
  for (const key of failure.candidates) {
    const spelt = snake(key);
    const size = spelt.split('_').length;
    for (let span = Math.max(1, size - 1); span <= size + 1 && failure.depth + span <= words.length; span++) {
      const typo = words.slice(failure.depth, failure.depth + span).join('_');
      if (suggest(typo, [spelt]) === undefined) continue;
      const distance = levenshtein(typo, spelt);
      if (!best || distance < best.distance) {
        best = { distance, name: [failure.prefix, spelt, ...words.slice(failure.depth + span)].join('_') };
      }
    }
  }
  return best?.name;
}

function walk(
  start: ConfigSchemaNode | undefined,
  words: readonly string[],
  i: number,
  existing: readonly unknown[],
  prefix: string,
  failure: Failure,
  json: boolean,
): Found | undefined {
  const node = deref(start);
  if (i === words.length) return { path: [], schema: node };
  // A free-form level (plugin options): the rest of the variable is one key.
  if (node === undefined) {
    const key = existingKey(existing, words, i) ?? camel(words.slice(i));
    return { path: [key], schema: undefined };
  }
  const types = typesOf(node);
  if (types.includes('array') && /^\d+$/.test(words[i])) {
    const index = Number(words[i]);
    const below = existing.map((e) => (Array.isArray(e) ? e[index] : undefined));
    const found = walk(node.items, words, i + 1, below, `${prefix}_${words[i]}`, failure, json);
    return found && { path: [index, ...found.path], schema: found.schema };
  }
  if (!types.includes('object')) return undefined;

  const properties = node.properties ?? {};
  for (const [key, child] of Object.entries(properties)) {
    const end = matchKey(key, words, i);
    if (end === undefined) continue;
    const childNode = i === 0 ? (WALK_ALIASES[key] ?? child) : child;
    const found = walk(childNode, words, end, below(existing, key), `${prefix}_${words.slice(i, end).join('_')}`, failure, json);
    if (found) return { path: [key, ...found.path], schema: found.schema };
  }

  const extra = node.additionalProperties;
  const patternNodes = Object.entries(node.patternProperties ?? {});
  // Keys other layers already use: a reference id, a method name, a plugin's dotted key.
  for (const key of existingKeys(existing)) {
    if (key in properties) continue;
    const end = matchKey(key, words, i);
    if (end === undefined) continue;
    const pattern = patternNodes.find(([p]) => new RegExp(p).test(key));
    const child = pattern ? pattern[1] : typeof extra === 'object' ? extra : undefined;
    if (!pattern && extra === false) continue;
    const found = walk(child, words, end, below(existing, key), `${prefix}_${words.slice(i, end).join('_')}`, failure, json);
    if (found) return { path: [key, ...found.path], schema: found.schema };
  }

  if (typeof extra === 'object') {
    // A new id: try the shortest name first, so `REFERENCES_ORDER_SERVICE_URL` finds `orderService.url`.
    // An id that takes all the words is a whole entry, which only JSON can give; otherwise
    // `REFERENCES_GREETER_TIMOUT` would become a reference called `greeterTimout`.
    const last = json ? words.length : words.length - 1;
    for (let end = i + 1; end <= last; end++) {
      const key = camel(words.slice(i, end));
      const found = walk(extra, words, end, [], `${prefix}_${words.slice(i, end).join('_')}`, failure, json);
      if (found) return { path: [key, ...found.path], schema: found.schema };
    }
  } else if (extra === true || (extra === undefined && !node.properties)) {
    return { path: [camel(words.slice(i))], schema: undefined };
  }

  if (i > failure.depth && node.properties) {
    failure.depth = i;
    failure.prefix = prefix;
    failure.candidates = Object.keys(properties).filter((k) => !k.startsWith('$'));
  }
  return undefined;
}

/**
 * The index after the words that spell `key` (ignoring case and punctuation), if they do.
 * `$schema` is for editors, not for the environment.
 */
function matchKey(key: string, words: readonly string[], i: number): number | undefined {
  if (key.startsWith('$')) return undefined;
  const wanted = key.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (wanted === '') return undefined;
  let joined = '';
  for (let j = i; j < words.length; j++) {
    joined += words[j];
    if (joined === wanted) return j + 1;
    if (joined.length >= wanted.length) return undefined;
  }
  return undefined;
}

function existingKeys(existing: readonly unknown[]): string[] {
  const keys = new Set<string>();
  for (const e of existing) if (isPlainObject(e)) for (const k of Object.keys(e)) keys.add(k);
  return [...keys];
}

/** An existing key spelt by all of `words[i..]`. */
function existingKey(existing: readonly unknown[], words: readonly string[], i: number): string | undefined {
  return existingKeys(existing).find((k) => matchKey(k, words, i) === words.length);
}

function below(existing: readonly unknown[], key: string): unknown[] {
  return existing.map((e) => (isPlainObject(e) ? e[key] : undefined));
}

function typesOf(node: ConfigSchemaNode): string[] {
  if (node.type === undefined) return node.enum ? ['string'] : [];
  return Array.isArray(node.type) ? node.type : [node.type];
}

/** `['SLOW', 'CALL', 'MS']` → `slowCallMs`. */
function camel(words: readonly string[]): string {
  return words.map((w, n) => (n === 0 ? w.toLowerCase() : w.charAt(0) + w.slice(1).toLowerCase())).join('');
}

/** `compressThreshold` → `COMPRESS_THRESHOLD`, `hash.arguments` → `HASH_ARGUMENTS`. */
function snake(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A string from the environment as the schema wants it: a number, a boolean, JSON for lists and
 * mappings, a comma-separated list for lists of names. Keys without a schema (plugin options) get
 * the same guesses. A value that fits no type is passed on as a string so validation names it.
 */
function coerce(raw: string, schema: ConfigSchemaNode | undefined): { value?: unknown; error?: string } {
  const text = raw.trim();
  const types = schema ? typesOf(schema) : [];
  const any = types.length === 0;
  if ((any || types.includes('number') || types.includes('integer')) && NUMBER.test(text)) return { value: Number(text) };
  if ((any || types.includes('boolean')) && /^(true|false)$/i.test(text)) return { value: text.toLowerCase() === 'true' };
  if ((any || types.includes('array') || types.includes('object')) && /^[[{]/.test(text)) {
    try {
      return { value: JSON.parse(text) };
    } catch (err) {
      return { error: `is not valid JSON: ${(err as Error).message}` };
    }
  }
  if (schema?.enum) {
    const match = schema.enum.find((v) => typeof v === 'string' && v.toLowerCase() === text.toLowerCase());
    if (match !== undefined) return { value: match };
  }
  if (types.includes('array') && !types.includes('string')) {
    return { value: text.split(',').map((s) => s.trim()).filter((s) => s !== '') };
  }
  return { value: raw };
}
