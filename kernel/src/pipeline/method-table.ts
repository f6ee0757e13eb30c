import { AppErrors } from '../errors/catalogue';

const FORBIDDEN = new Set(['constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);
const OBJECT_MEMBERS = new Set(Object.getOwnPropertyNames(Object.prototype));

/** A bound, callable method of an implementation. */
export type BoundMethod = (...args: unknown[]) => unknown;

/**
 * The provider's table of callable methods: name → index → bound implementation. Only the
 * implementation's own function members and those of its class chain (never `Object.prototype`
 * members, `constructor`, `__proto__`, or names starting with `_`) are callable; `only` narrows it
 * further. Indexes follow sorted names, so both sides compute the same index for the same list.
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
      if (missing.length) throw AppErrors.IMPLEMENTATION(iface, `methods ${missing.join(', ')} are configured but not implemented`);
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
  let proto: object | null = target;
  while (proto && proto !== Object.prototype && proto !== Function.prototype) {
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
