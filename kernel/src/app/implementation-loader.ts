import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ServiceConfig } from '../config/types';
import { AppErrors } from '../errors/catalogue';
import { PlexusError } from '../errors/plexus-error';

/** A service to export: its config and the object whose methods answer calls. */
export interface ProvidedService {
  config: ServiceConfig;
  target: object;
  /** Absolute module path when the implementation came from a file (the worker executor needs it). */
  modulePath?: string;
}

/**
 * Turns a service's `implementation` — a module path (relative to `baseDir`), an object or a
 * class — into the object that answers calls. A missing `implementation`, a file that does not
 * exist, or a module that throws while loading are coded errors naming the service and the file.
 */
export function loadImplementation(config: ServiceConfig, baseDir: string): ProvidedService {
  let impl = config.implementation;
  let modulePath: string | undefined;
  if (impl === undefined || impl === null) throw AppErrors.NO_IMPLEMENTATION(config.interface);
  if (typeof impl === 'string') {
    modulePath = resolveModule(path.resolve(baseDir, impl), config.interface);
    try {
      impl = pickExport(require(modulePath), config.interface);
    } catch (err) {
      if (PlexusError.is(err)) throw err;
      throw AppErrors.IMPLEMENTATION(config.interface, `cannot load ${modulePath}: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  if (isClass(impl)) {
    try {
      impl = new impl();
    } catch (err) {
      throw AppErrors.IMPLEMENTATION(config.interface, `its class threw when constructed: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  if (impl === null || typeof impl !== 'object') {
    const what = typeof impl === 'function' ? 'a plain function' : String(impl);
    throw AppErrors.IMPLEMENTATION(config.interface, `expected an object or a class, got ${what}`);
  }
  return { config, target: impl as object, modulePath };
}

function resolveModule(file: string, iface: string): string {
  try {
    return require.resolve(file);
  } catch {
    const tried = fs.existsSync(path.dirname(file)) ? `${file} (also with .js, .json, /index.js)` : `${file} (its folder does not exist)`;
    throw AppErrors.IMPLEMENTATION_NOT_FOUND(iface, tried);
  }
}

/** A class (or a pre-ES2015 constructor whose prototype carries methods), as opposed to a plain function. */
export function isClass(value: unknown): value is new () => object {
  if (typeof value !== 'function') return false;
  if (/^class[\s{]/.test(Function.prototype.toString.call(value))) return true;
  const proto = (value as { prototype?: object }).prototype;
  return proto !== undefined && Object.getOwnPropertyNames(proto).some((n) => n !== 'constructor');
}

const isImplementation = (v: unknown): boolean => isClass(v) || (typeof v === 'object' && v !== null);

/**
 * The implementation a module exports: `default`, a single named export that is an object or a
 * class (or one named after the interface) — otherwise the module object, whose functions are then
 * the methods (`module.exports = { sayHello() {} }`).
 */
function pickExport(mod: unknown, iface: string): unknown {
  if (mod === null || typeof mod !== 'object') return mod;
  const m = mod as Record<string, unknown>;
  if (m.default !== undefined) return m.default;
  const named = Object.keys(m).filter((k) => k !== '__esModule');
  if (named.length === 1 && isImplementation(m[named[0]])) return m[named[0]];
  const short = iface.split('.').pop()!;
  for (const k of named) if ((k === short || k === `${short}Impl` || k === `${short}Service`) && isImplementation(m[k])) return m[k];
  return mod;
}
