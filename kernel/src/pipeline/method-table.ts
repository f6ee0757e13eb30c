import { builtinModules } from 'node:module';
import { AppErrors } from '../errors/catalogue';

const FORBIDDEN = new Set(['constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);
const OBJECT_MEMBERS = new Set(Object.getOwnPropertyNames(Object.prototype));

/** A bound, callable method of an implementation. */
export type BoundMethod = (...args: unknown[]) => unknown;

/**
 * The provider's table of callable methods (DESIGN §12): name → index → bound implementation.
 *
 * Callable are the implementation's own function members and those of its own classes, walking
 * the prototype chain only until the first prototype that belongs to the runtime: `Object`,
 * `Function`, any global constructor (`Map`, `EventTarget`, ...) or any class exported by a
 * `node:` built-in module (`EventEmitter`, `Stream`, `Readable`, `AsyncResource`, `net.Socket`,
 * ...). So a service class extending `EventEmitter` never lets a caller `emit`, `on`,
 * `removeAllListeners` or `setMaxListeners`. Never callable either: `constructor`, `__proto__`,
 * Object's members, getters, and names starting with `_` or `$`.
 *
 * `only` (the service's `expose:` list) is the allow-list when given: exactly those names, each of
 * which must be callable by the rule above, or construction fails with a coded error (at start).
 * Indexes follow sorted names, so both sides compute the same index for the same list.
 */
export class MethodTable {
  readonly names: readonly string[];
  private readonly byName: Map<string, BoundMethod>;
  private readonly byIndex: BoundMethod[];

  constructor(
    readonly iface: string,
    readonly target: object,
    only?: readonly string[],
  ) {
    const found = collectMethods(target);
    let names = [...found.keys()];
    if (only && only.length) {
      const missing = only.filter((n) => !found.has(n));
      if (missing.length) {
        throw AppErrors.IMPLEMENTATION(
          iface,
          `expose: names ${missing.map((n) => `"${n}"`).join(', ')}, which the implementation does not have as callable methods ` +
            `(callable: ${[...found.keys()].sort().join(', ') || 'none'}; private "_" names, Object members and methods inherited from runtime classes such as EventEmitter never are)`,
        );
      }
      names = names.filter((n) => only.includes(n));
    }
    names.sort();
    if (!names.length) throw AppErrors.NO_METHODS(iface);
    this.names = Object.freeze(names);
    this.byName = new Map(names.map((n) => [n, found.get(n)!]));
    this.byIndex = names.map((n) => found.get(n)!);
  }

  get(method: string): BoundMethod | undefined {
    return this.byName.get(method);
  }

  at(index: number): BoundMethod | undefined {
    return this.byIndex[index];
  }

  nameAt(index: number): string | undefined {
    return this.names[index];
  }
}

function collectMethods(target: object): Map<string, BoundMethod> {
  const out = new Map<string, BoundMethod>();
  const stopAt = runtimePrototypes();
  let proto: object | null = target;
  while (proto && !stopAt.has(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (out.has(name) || FORBIDDEN.has(name) || OBJECT_MEMBERS.has(name) || name.startsWith('_') || name.startsWith('$')) continue;
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (!desc || typeof desc.value !== 'function') continue;
      out.set(name, (desc.value as BoundMethod).bind(target));
    }
    proto = Object.getPrototypeOf(proto);
  }
  return out;
}

/**
 * Built-in modules not loaded to find runtime classes: loading them warns (deprecated or
 * experimental), or changes the process (`domain` makes every EventEmitter check for a domain on
 * each emit), and no service class extends anything of theirs.
 */
const SKIPPED_BUILTINS = new Set(['sys', 'punycode', 'wasi', 'constants', 'test', 'sqlite', 'sea', 'domain']);

let runtime: WeakSet<object> | undefined;

/**
 * Prototypes that belong to the runtime, where the walk up a service's prototype chain stops:
 * those of every global constructor and of every class a `node:` built-in module exports, found
 * by identity (a name or a `[native code]` check would miss JavaScript-implemented classes such
 * as EventEmitter, or be fooled by a user class of the same name). Built once per process, lazily
 * (~15 ms: it loads the built-in modules not loaded yet).
 */
function runtimePrototypes(): WeakSet<object> {
  if (runtime) return runtime;
  const set = new WeakSet<object>([Object.prototype, Function.prototype]);
  const add = (value: unknown) => {
    if (typeof value !== 'function') return;
    const proto = (Object.getOwnPropertyDescriptor(value, 'prototype') ?? {}).value as unknown;
    if (proto !== null && typeof proto === 'object') set.add(proto);
  };
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    const desc = Object.getOwnPropertyDescriptor(globalThis, name);
    if (desc === undefined) continue;
    if ('value' in desc) add(desc.value);
    // Many web classes are lazy getters; only constructors (capitalised) are read: lowercase
    // getters may load a module and warn (`sys`, `wasi` in `node -e`).
    else if (/^[A-Z]/.test(name)) {
      try {
        add((globalThis as Record<string, unknown>)[name]);
      } catch {
        // a getter that throws is no constructor of ours
      }
    }
  }
  for (const name of builtinModules) {
    if (name.startsWith('_') || SKIPPED_BUILTINS.has(name)) continue;
    let mod: unknown;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(`node:${name}`);
    } catch {
      continue; // not available in this runtime
    }
    add(mod);
    if (mod === null || (typeof mod !== 'object' && typeof mod !== 'function')) continue;
    for (const key of Object.keys(mod)) {
      const desc = Object.getOwnPropertyDescriptor(mod, key);
      add(desc?.value);
      // one level down, for namespaces such as `stream.promises` or `util.types`
      const inner = desc?.value as unknown;
      if (inner !== null && typeof inner === 'object') for (const k of Object.keys(inner)) add(Object.getOwnPropertyDescriptor(inner, k)?.value);
    }
  }
  runtime = set;
  return set;
}
