/** Something a value from a URL is tested against. */
export interface Pattern {
  test(value: string): boolean;
}

/** A value taken as it is (a `$param` resolved from the consumer): stars in it are not wildcards. */
export class Literal implements Pattern {
  constructor(readonly text: string) {}
  test(value: string): boolean {
    return value === this.text;
  }
}

/** What a `$param` the consumer does not have becomes: it matches nothing. */
export const NOTHING: Pattern = { test: () => false };

/**
 * A value pattern of a routing rule: text with `*` standing for any run of characters (none
 * included). `*` alone matches any value, `10.0.*` a prefix, `*.hz` a suffix, `*gray*` a part;
 * several stars work too. Compiled once when rules change; `test` does not allocate and costs
 * O(length of the value).
 */
export class Glob implements Pattern {
  private readonly parts: readonly string[];
  private readonly minLength: number;

  constructor(readonly pattern: string) {
    this.parts = pattern.split('*');
    this.minLength = this.parts.reduce((n, p) => n + p.length, 0);
  }

  test(value: string): boolean {
    const parts = this.parts;
    if (parts.length === 1) return value === parts[0];
    if (value.length < this.minLength) return false;
    const first = parts[0];
    const last = parts[parts.length - 1];
    if (!value.startsWith(first) || !value.endsWith(last)) return false;
    // Middle parts, left to right, each as early as possible: for `*`-only patterns the
    // earliest placement never rules out a match that a later one would allow.
    let at = first.length;
    const end = value.length - last.length;
    for (let i = 1; i < parts.length - 1; i++) {
      const part = parts[i];
      if (part.length === 0) continue;
      const found = value.indexOf(part, at);
      if (found < 0 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  }
}

/** A provider (or consumer) address pattern: matches the host alone or `host:port`, with `*` wildcards. */
export function addressMatches(pattern: Pattern, host: string, address: string): boolean {
  return pattern.test(address) || pattern.test(host);
}
