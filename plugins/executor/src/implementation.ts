/**
 * Loading a service implementation inside a worker thread. No kernel import: this runs in every
 * worker, which should start fast and carry nothing it does not need.
 */

function isClass(value: unknown): value is new () => object {
  if (typeof value !== 'function') return false;
  if (/^class[\s{]/.test(Function.prototype.toString.call(value))) return true;
  // A pre-ES2015 constructor: a function whose prototype carries methods.
  const proto = (value as { prototype?: object }).prototype;
  return proto !== undefined && Object.getOwnPropertyNames(proto).some((n) => n !== 'constructor');
}

/**
 * The implementation a module exports: `module.exports`, its `default`, or its single named export;
 * an object is used as it is, a class is instantiated with no arguments.
 */
export function implementationOf(mod: unknown, path: string): object {
  let candidate = mod;
  if (typeof mod === 'object' && mod !== null) {
    const record = mod as Record<string, unknown>;
    const keys = Object.keys(record);
    if (record.default !== undefined && record.default !== null) candidate = record.default;
    else if (keys.length === 1) {
      const only = record[keys[0]];
      // `exports.Greeter = class {...}` or `exports.greeter = {...}`; a lone function is a method.
      if (isClass(only) || (typeof only === 'object' && only !== null)) candidate = only;
    }
  }
  if (isClass(candidate)) return new candidate();
  if (typeof candidate === 'object' && candidate !== null) return candidate;
  throw new TypeError(
    `module "${path}" exports ${typeof candidate === 'function' ? 'a plain function' : String(candidate)}; ` +
      'export the service object or class (module.exports, default, or a single named export)',
  );
}

/** Requires the module at `path` and returns its implementation. */
export function loadImplementation(path: string): object {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return implementationOf(require(path), path);
}
