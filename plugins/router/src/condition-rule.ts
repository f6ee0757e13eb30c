import type { URL } from '@plexus/kernel/spi';
import { RouterErrors, quote } from './errors';
import { Glob, Literal, NOTHING, addressMatches, type Pattern } from './glob';

/**
 * Longest condition rule body accepted, in characters. Parsing and compiling are linear in the
 * body, and routing work per method is (conditions × providers), so this bounds what one rule can
 * cost. 16 KiB is far above hand-written rules (a long address list is a few hundred bytes).
 */
export const MAX_CONDITION_BODY = 16 * 1024;
/** Most condition lines in one rule body (one `when => then` per line). */
export const MAX_CONDITION_LINES = 64;

/** `=` (the value matches one of the patterns) or `!=` (it matches none). */
export type Operator = '=' | '!=';

/** One `key op v1,v2` of a condition, as written (keys without their `consumer.`/`provider.` prefix). */
export interface Clause {
  /** `method`, or the consumer param (when side) / provider param (then side) it reads. */
  readonly key: string;
  readonly op: Operator;
  /** Patterns as written: `*` wildcards, `$param` references to the consumer's params. */
  readonly values: readonly string[];
}

/** One `when => then` line of a condition rule. */
export interface Condition {
  /** Empty: every call. */
  readonly when: readonly Clause[];
  /** Empty: no provider (a blacklist of the calls `when` matches). */
  readonly then: readonly Clause[];
}

const CLAUSE = /^([A-Za-z_][\w.-]*)\s*(!=|=)\s*(\S[\s\S]*)$/;
const VALUE = /^[^\s=!&,]+$/;
const REF = /^\$[A-Za-z_][\w.-]*$/;

/**
 * Parses a condition rule body: one or more lines `[when] => [then]` (blank lines and lines
 * starting with `#` are skipped). Each side is clauses `key = v1,v2` or `key != v1,v2` joined by
 * `&`. When side keys: `method`, `consumer.<param>` or a bare consumer param (`host`,
 * `application`, ...); then side keys: `provider.<param>` or a bare provider param (`host`, `port`,
 * `address`, `protocol`, `region`, ...). Throws `PLEXUS_ERR_ROUTER_CONDITION_SYNTAX` naming the
 * rule and what is wrong; never anything else, whatever `body` holds.
 */
export function parseCondition(id: string, body: string): Condition[] {
  const fail = (problem: string) => RouterErrors.CONDITION_SYNTAX(id, problem);
  if (typeof body !== 'string') throw fail(`the body is ${body === null ? 'null' : typeof body}, not text`);
  if (body.length > MAX_CONDITION_BODY) throw fail(`the body has ${body.length} characters, more than the ${MAX_CONDITION_BODY} allowed`);
  const out: Condition[] = [];
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (out.length === MAX_CONDITION_LINES) throw fail(`more than ${MAX_CONDITION_LINES} condition lines`);
    const sides = line.split('=>');
    if (sides.length !== 2) {
      throw fail(sides.length === 1 ? `${quote(line)} has no "=>" (write "when => then"; "=> then" applies to every call)` : `${quote(line)} has more than one "=>"`);
    }
    out.push({ when: parseSide(sides[0], 'when', line, fail), then: parseSide(sides[1], 'then', line, fail) });
  }
  if (out.length === 0) throw fail('the body holds no condition');
  return out;
}

function parseSide(text: string, side: 'when' | 'then', line: string, fail: (problem: string) => Error): Clause[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const clauses: Clause[] = [];
  for (const raw of trimmed.split('&')) {
    const part = raw.trim();
    if (part === '') throw fail(`an empty condition next to "&" in ${quote(line)}`);
    const m = CLAUSE.exec(part);
    if (m === null) throw fail(`${quote(part)} is not "key = value" or "key != value"`);
    const [, written, op, list] = m;
    const values = list.split(',').map((v) => v.trim());
    for (const v of values) {
      if (v === '') throw fail(`${quote(part)} has an empty value (values are separated by ",")`);
      if (!VALUE.test(v)) throw fail(`the value ${quote(v)} in ${quote(part)} holds a space, "=", "!" or "&"`);
      if (v.startsWith('$') && !REF.test(v)) throw fail(`${quote(v)} is not a reference to a consumer param (write $host, $application, ...)`);
    }
    clauses.push({ key: keyOf(written, side, fail), op: op as Operator, values });
  }
  return clauses;
}

function keyOf(written: string, side: 'when' | 'then', fail: (problem: string) => Error): string {
  const dot = written.indexOf('.');
  const prefix = dot < 0 ? '' : written.slice(0, dot);
  if (prefix === 'consumer' || prefix === 'provider') {
    const key = written.slice(dot + 1);
    if (key === '') throw fail(`${quote(written)} names no param`);
    if (side === 'when' && prefix === 'provider') throw fail(`${quote(written)} is a provider param: those belong after "=>"`);
    if (side === 'then' && prefix === 'consumer') throw fail(`${quote(written)} is a consumer param: those belong before "=>"`);
    return key;
  }
  if (side === 'then' && written === 'method') throw fail('"method" belongs before "=>" (it selects calls, not providers)');
  return written;
}

/** One clause made ready to test: its patterns, and how to read the value it tests. */
class Term {
  constructor(
    readonly key: string,
    readonly negate: boolean,
    readonly patterns: readonly Pattern[],
  ) {}

  /** Tests a value; a missing value fails `=` and passes `!=` (Dubbo's rule). */
  testValue(value: string | undefined): boolean {
    if (value === undefined) return this.negate;
    return this.hit(value) !== this.negate;
  }

  /** Tests a URL (`address` matches either `host:port` or the host alone). */
  testUrl(url: URL): boolean {
    if (this.key === 'address') {
      let hit = false;
      for (const p of this.patterns) if (addressMatches(p, url.host, url.address)) hit = true;
      return hit !== this.negate;
    }
    return this.testValue(valueOf(url, this.key));
  }

  private hit(value: string): boolean {
    for (const p of this.patterns) if (p.test(value)) return true;
    return false;
  }
}

/** The value a key names on a URL: the address parts, or a param (empty counts as missing). */
export function valueOf(url: URL, key: string): string | undefined {
  switch (key) {
    case 'host':
      return url.host;
    case 'port':
      return String(url.port);
    case 'address':
      return url.address;
    case 'protocol':
      return url.protocol;
    case 'interface':
    case 'path':
      return url.path;
    default:
      return url.getParam(key);
  }
}

/**
 * A condition line bound to one consumer: the consumer's part of `when` already decided, `$param`
 * references resolved, patterns compiled. Routing with it never parses or allocates patterns.
 */
export class CompiledCondition {
  /** False when the consumer clauses rule this consumer out: the line then never applies. */
  readonly forConsumer: boolean;
  private readonly methodTerms: readonly Term[];
  private readonly thenTerms: readonly Term[];
  /** The then side is empty: matched calls get no provider. */
  readonly blocks: boolean;

  constructor(condition: Condition, consumer: URL) {
    const compile = (c: Clause) => new Term(c.key, c.op === '!=', c.values.map((v) => patternOf(v, consumer)));
    let forConsumer = true;
    const methodTerms: Term[] = [];
    for (const clause of condition.when) {
      const term = compile(clause);
      if (clause.key === 'method') methodTerms.push(term);
      else if (!term.testUrl(consumer)) forConsumer = false;
    }
    this.forConsumer = forConsumer;
    this.methodTerms = methodTerms;
    this.thenTerms = condition.then.map(compile);
    this.blocks = condition.then.length === 0;
  }

  /** Whether the line applies to calls of `method` (of this consumer). */
  appliesTo(method: string): boolean {
    if (!this.forConsumer) return false;
    for (const t of this.methodTerms) if (!t.testValue(method)) return false;
    return true;
  }

  /** Whether a provider passes the then side. */
  admits(provider: URL): boolean {
    for (const t of this.thenTerms) if (!t.testUrl(provider)) return false;
    return true;
  }
}

function patternOf(value: string, consumer: URL): Pattern {
  if (value.startsWith('$')) {
    const resolved = valueOf(consumer, value.slice(1));
    return resolved === undefined ? NOTHING : new Literal(resolved);
  }
  return value.includes('*') ? new Glob(value) : new Literal(value);
}
