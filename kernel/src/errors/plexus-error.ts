/**
 * Framework errors: configuration, loading, lifecycle. Each has a string code `PLEXUS_ERR_<AREA>_<WHAT>`
 * and a hint that says what to do. They never cross the wire as such; a call that fails for a
 * framework reason carries the code in `RpcError.reason`.
 */
const BRAND = Symbol.for('plexus.PlexusError');

export class PlexusError extends Error {
  readonly code: string;
  readonly hint?: string;
  constructor(code: string, message: string, hint?: string, options?: { cause?: unknown }) {
    super(hint ? `${message}\n  hint: ${hint}` : message, options);
    this.code = code;
    if (hint !== undefined) this.hint = hint;
  }
  override get name(): string {
    return `PlexusError [${this.code}]`;
  }
  static is(value: unknown, code?: string): value is PlexusError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (value as PlexusError).code === code)
    );
  }
}
Object.defineProperty(PlexusError.prototype, BRAND, { value: true });

/** A catalogue entry: a code, a message built from arguments, and the fix. */
export interface ErrorDefinition<A extends unknown[]> {
  readonly code: string;
  readonly hint: string;
  (...args: A): PlexusError;
}

/**
 * Declares one framework error. Plugins use this too so their errors look like the kernel's:
 * `const E = defineError('PLEXUS_ERR_TCP_CONNECT', (addr: string) => \`cannot connect to ${addr}\`, 'Is the provider running?')`.
 */
export function defineError<A extends unknown[]>(
  code: string,
  message: (...args: A) => string,
  hint: string,
): ErrorDefinition<A> {
  if (!/^PLEXUS_ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/.test(code)) throw new Error(`bad error code ${code}`);
  const make = ((...args: A) => new PlexusError(code, message(...args), hint)) as ErrorDefinition<A>;
  Object.defineProperty(make, 'code', { value: code });
  Object.defineProperty(make, 'hint', { value: hint });
  return make;
}
