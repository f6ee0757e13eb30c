import * as protobuf from 'protobufjs';
import type { RpcError } from '@plexus/kernel/spi';
import { ProtobufErrors, serializationError } from './errors';

/** Largest message a codec encodes or decodes by default: 4 MiB, grpc-js's default receive limit. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;

/**
 * How decoded messages become plain objects — proto-loader's usual options
 * (`{ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }`), so code
 * written for grpc-js sees the same objects: field names as written in the `.proto`, 64-bit
 * integers as decimal strings (a JS number would lose precision past 2^53), enums by name, bytes
 * as Uint8Arrays (grpc-js gives Buffers, a subclass), absent scalars as their defaults, and the name of the set member of a oneof.
 */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: true };

const INT32 = new Set(['int32', 'sint32', 'sfixed32', 'uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);
const DECIMAL = /^-?\d{1,20}$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Encodes plain objects to one message type and back. Scope: per message type, shared by every
 * call; stateless, safe to call re-entrantly.
 */
export class MessageCodec {
  constructor(
    readonly type: protobuf.Type,
    readonly maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE,
  ) {}

  /** The message's full name, without the leading dot. */
  get name(): string {
    return this.type.fullName.slice(1);
  }

  /**
   * A plain object → bytes. `undefined` and `null` encode the empty message. Throws a
   * `SERIALIZATION` RpcError naming the first field that does not fit the type (protobufjs's own
   * `fromObject` would silently coerce it: `"abc"` into an int32 becomes 0).
   */
  encode(value: unknown): Uint8Array {
    const problem = value === undefined || value === null ? undefined : check(this.type, value, '', 0);
    if (problem !== undefined) throw serializationError(ProtobufErrors.ENCODE, this.name, problem);
    let bytes: Uint8Array;
    try {
      bytes = this.type.encode(this.type.fromObject((value ?? {}) as Record<string, unknown>)).finish();
    } catch (err) {
      throw serializationError(ProtobufErrors.ENCODE, this.name, (err as Error).message);
    }
    if (bytes.length > this.maxMessageSize) throw serializationError(ProtobufErrors.TOO_LARGE, this.name, bytes.length, this.maxMessageSize);
    return bytes;
  }

  /**
   * Bytes → a plain object. The size is checked before decoding; protobufjs checks every
   * length-delimited field against the bytes present, so a small body cannot allocate a large one.
   * A recursive type nested past the stack is caught and reported like any malformed body.
   */
  decode(bytes: Uint8Array): Record<string, unknown> {
    if (bytes.length > this.maxMessageSize) throw serializationError(ProtobufErrors.TOO_LARGE, this.name, bytes.length, this.maxMessageSize);
    try {
      // A plain Uint8Array, never a Buffer: protobufjs's Buffer reader clips a string that declares
      // more bytes than are present instead of failing, so a truncated body would decode silently.
      const view = bytes instanceof Buffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : bytes;
      return this.type.toObject(this.type.decode(protobuf.Reader.create(view)), TO_OBJECT);
    } catch (err) {
      throw decodeError(this.name, bytes.length, err);
    }
  }
}

function decodeError(type: string, length: number, err: unknown): RpcError {
  const detail = err instanceof RangeError && /call stack/i.test(err.message) ? 'nested too deeply' : err instanceof Error ? err.message : String(err);
  return serializationError(ProtobufErrors.DECODE, type, length, detail);
}

/** Deepest nesting `check` follows (the decoders' usual recursion limit). */
const MAX_DEPTH = 100;

/** The first mismatch between `value` and `type` as a sentence, or undefined when it fits. */
function check(type: protobuf.Type, value: unknown, path: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `${path || 'the value'} nests messages deeper than ${MAX_DEPTH}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    return `${path || 'the value'} must be an object (message ${type.fullName.slice(1)}), got ${describe(value)}`;
  }
  const fields = type.fields;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    const at = path ? `${path}.${key}` : key;
    // proto-loader's oneofs: true adds the set member's name under the oneof's own name.
    if (type.oneofs !== undefined && Object.prototype.hasOwnProperty.call(type.oneofs, key)) {
      if (v !== undefined && v !== null && (typeof v !== 'string' || !type.oneofs[key].oneof.includes(v))) return `${at} names no member of oneof ${key}`;
      continue;
    }
    const field = Object.prototype.hasOwnProperty.call(fields, key) ? fields[key] : undefined;
    if (field === undefined) return `${at} is not a field of ${type.fullName.slice(1)} (fields: ${Object.keys(fields).join(', ') || 'none'})`;
    if (v === undefined || v === null) continue;
    field.resolve();
    if (field.map) {
      if (typeof v !== 'object' || Array.isArray(v)) return `${at} must be an object (a map), got ${describe(v)}`;
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        const p = checkValue(field, item, `${at}[${JSON.stringify(k)}]`, depth);
        if (p !== undefined) return p;
      }
    } else if (field.repeated) {
      if (!Array.isArray(v)) return `${at} is repeated and must be an array, got ${describe(v)}`;
      for (let i = 0; i < v.length; i++) {
        const p = checkValue(field, v[i], `${at}[${i}]`, depth);
        if (p !== undefined) return p;
      }
    } else {
      const p = checkValue(field, v, at, depth);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

function checkValue(field: protobuf.Field, v: unknown, at: string, depth: number): string | undefined {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) return check(rt, v, at, depth + 1);
  if (rt instanceof protobuf.Enum) {
    if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(rt.values, v)) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return undefined;
    return `${at} must be a value of enum ${rt.fullName.slice(1)} (${Object.keys(rt.values).join(', ')}), got ${describe(v)}`;
  }
  const t = field.type;
  if (t === 'string') return typeof v === 'string' ? undefined : `${at} must be a string, got ${describe(v)}`;
  if (t === 'bool') return typeof v === 'boolean' ? undefined : `${at} must be a boolean, got ${describe(v)}`;
  if (t === 'double' || t === 'float') return typeof v === 'number' ? undefined : `${at} must be a number, got ${describe(v)}`;
  if (INT32.has(t)) {
    const unsigned = t.startsWith('u') || t === 'fixed32';
    const ok = typeof v === 'number' && Number.isInteger(v) && (unsigned ? v >= 0 && v <= 4294967295 : v >= -2147483648 && v <= 2147483647);
    return ok ? undefined : `${at} must be a ${t} (an integer in range), got ${describe(v)}`;
  }
  if (INT64.has(t)) {
    const ok =
      (typeof v === 'number' && Number.isSafeInteger(v)) ||
      (typeof v === 'string' && DECIMAL.test(v)) ||
      typeof v === 'bigint' ||
      (typeof v === 'object' && v !== null && typeof (v as { low?: unknown }).low === 'number' && typeof (v as { high?: unknown }).high === 'number');
    return ok ? undefined : `${at} must be a ${t} (a safe integer, a decimal string or a Long), got ${describe(v)}`;
  }
  if (t === 'bytes') return v instanceof Uint8Array || (typeof v === 'string' && BASE64.test(v)) ? undefined : `${at} must be bytes (Buffer, Uint8Array or base64), got ${describe(v)}`;
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}
