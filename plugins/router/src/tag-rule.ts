import { RouterErrors, quote } from './errors';
import { Glob, Literal, type Pattern } from './glob';

/** Longest tag rule body accepted, in characters: parsing is linear in it. */
export const MAX_TAG_BODY = 64 * 1024;
/** Most tags in one rule. */
export const MAX_TAGS = 256;
/** Most addresses over all the tags of one rule. */
export const MAX_TAG_ADDRESSES = 4096;

const TAG_NAME = /^[^\s,]{1,128}$/;
const ADDRESS = /^[^\s,]{1,256}$/;

/** One tag of a tag rule: the providers at these addresses carry it. */
export interface TagAssignment {
  readonly name: string;
  /** `host` or `host:port`, `*` wildcards allowed, as written. */
  readonly addresses: readonly string[];
  /** Compiled `addresses`. */
  readonly patterns: readonly Pattern[];
}

/** A parsed tag rule body. */
export interface TagRuleBody {
  /** `force` written in the body, if any. */
  readonly force?: boolean;
  readonly tags: readonly TagAssignment[];
}

/**
 * Parses a tag rule body, JSON (`{"force":false,"tags":[{"name":"gray","addresses":["10.0.0.1:20880"]}]}`)
 * or the YAML block form of the same shape (see the README; anchors, multi-line strings and the
 * rest of YAML are not read). Unknown keys are errors, so a misspelt `adresses` is reported rather
 * than ignored. Throws `PLEXUS_ERR_ROUTER_TAG_RULE`; never anything else.
 */
export function parseTagRule(id: string, body: string): TagRuleBody {
  const fail = (problem: string) => RouterErrors.TAG_RULE(id, problem);
  if (typeof body !== 'string') throw fail(`the body is ${body === null ? 'null' : typeof body}, not text`);
  if (body.length > MAX_TAG_BODY) throw fail(`the body has ${body.length} characters, more than the ${MAX_TAG_BODY} allowed`);
  const text = body.trim();
  if (text === '') throw fail('the body is empty');
  let data: unknown;
  if (text.startsWith('{')) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw fail(`it is not valid JSON (${(err as Error).message.slice(0, 80)})`);
    }
  } else data = readYaml(text, fail);
  return check(data, fail);
}

function check(data: unknown, fail: (problem: string) => Error): TagRuleBody {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw fail('the body is not a mapping with "tags"');
  const top = data as Record<string, unknown>;
  for (const key of Object.keys(top)) if (key !== 'force' && key !== 'tags') throw fail(`unknown key ${quote(key)} (expected force, tags)`);
  if (top.force !== undefined && typeof top.force !== 'boolean') throw fail('"force" is not true or false');
  if (!Array.isArray(top.tags)) throw fail('"tags" is missing or not a list');
  if (top.tags.length > MAX_TAGS) throw fail(`more than ${MAX_TAGS} tags`);
  const seen = new Set<string>();
  let addressCount = 0;
  const tags: TagAssignment[] = [];
  for (const [i, entry] of top.tags.entries()) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw fail(`tags[${i}] is not a mapping with name and addresses`);
    const tag = entry as Record<string, unknown>;
    for (const key of Object.keys(tag)) if (key !== 'name' && key !== 'addresses') throw fail(`tags[${i}] has an unknown key ${quote(key)} (expected name, addresses)`);
    if (typeof tag.name !== 'string' || !TAG_NAME.test(tag.name)) throw fail(`tags[${i}].name is not a tag (1 to 128 characters, no space or ",")`);
    if (seen.has(tag.name)) throw fail(`the tag ${quote(tag.name)} is listed twice`);
    seen.add(tag.name);
    if (!Array.isArray(tag.addresses)) throw fail(`tags[${i}].addresses is missing or not a list`);
    addressCount += tag.addresses.length;
    if (addressCount > MAX_TAG_ADDRESSES) throw fail(`more than ${MAX_TAG_ADDRESSES} addresses`);
    for (const a of tag.addresses) {
      if (typeof a !== 'string' || !ADDRESS.test(a)) throw fail(`tags[${i}].addresses holds ${quote(String(a))}, not an address (host or host:port, "*" allowed)`);
    }
    const addresses = tag.addresses as string[];
    tags.push({ name: tag.name, addresses, patterns: addresses.map((a) => (a.includes('*') ? new Glob(a) : new Literal(a))) });
  }
  return top.force === undefined ? { tags } : { force: top.force, tags };
}

const KEY_VALUE = /^([A-Za-z]+):(?:\s+(.*))?$/;

/**
 * The YAML block form of a tag rule, and nothing more: `force: <bool>` and `tags:` at the left
 * margin, then items `- name: <tag>` with `addresses:` as a flow list `[a, b]` or a block list of
 * `- a` lines. Linear in the text; anything else is an error naming the line.
 */
function readYaml(text: string, fail: (problem: string) => Error): unknown {
  const top: Record<string, unknown> = {};
  let tags: Record<string, unknown>[] | undefined;
  let item: Record<string, unknown> | undefined;
  /** The indent of the `-` that opened `item`. */
  let itemIndent = 0;
  /** The key of `item` whose block list is being read, and the indent of its line. */
  let listKey: string | undefined;
  let listIndent = 0;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n].replace(/(^|\s)#.*$/, '');
    if (raw.trim() === '') continue;
    const where = `line ${n + 1} (${quote(raw.trim())})`;
    const indent = raw.length - raw.trimStart().length;
    if (raw.slice(0, indent).includes('\t')) throw fail(`${where} is indented with a tab`);
    let content = raw.trim();
    const dash = content === '-' || content.startsWith('- ');
    if (indent === 0 && !dash) {
      item = undefined;
      listKey = undefined;
      const m = KEY_VALUE.exec(content);
      if (m === null) throw fail(`${where} is not "key: value"`);
      const [, key, rest = ''] = m;
      if (key === 'tags') {
        if (rest !== '' && rest !== '[]') throw fail(`${where}: write the tags as "- name: ..." items on the lines below`);
        top.tags = tags = [];
      } else top[key] = scalar(rest);
      continue;
    }
    if (tags === undefined) throw fail(`${where} is ${dash ? 'a list item' : 'indented'} but not under "tags:"`);
    if (dash) {
      // Deeper than the item's own dash: an entry of the list being read (YAML lets it sit at the key's column).
      if (item !== undefined && listKey !== undefined && indent > itemIndent) {
        (item[listKey] as unknown[]).push(scalar(content.slice(1).trim()));
        continue;
      }
      item = {};
      tags.push(item);
      itemIndent = indent;
      listKey = undefined;
      content = content.slice(1).trim();
      if (content === '') continue;
    } else if (listKey !== undefined && indent > listIndent) throw fail(`${where} is inside the list "${listKey}" but does not start with "- "`);
    if (item === undefined) throw fail(`${where} is not inside a "- name: ..." item`);
    const m = KEY_VALUE.exec(content);
    if (m === null) throw fail(`${where} is not "key: value"`);
    const [, key, rest = ''] = m;
    if (Object.prototype.hasOwnProperty.call(item, key)) throw fail(`${where} repeats "${key}"`);
    listKey = undefined;
    if (rest === '') {
      item[key] = [];
      listKey = key;
      listIndent = indent;
    } else if (rest.startsWith('[')) {
      if (!rest.endsWith(']')) throw fail(`${where} opens a list "[" it does not close on the same line`);
      const inner = rest.slice(1, -1).trim();
      item[key] = inner === '' ? [] : inner.split(',').map((v) => scalar(v.trim()));
    } else item[key] = scalar(rest);
  }
  return top;
}

/** A YAML scalar of this small form: true/false, a quoted string, or plain text. */
function scalar(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text.length >= 2 && (text[0] === '"' || text[0] === "'") && text[text.length - 1] === text[0]) return text.slice(1, -1);
  return text;
}
