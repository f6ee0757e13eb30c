import { Writer } from 'protobufjs';
import {
  DECODE_LIMITS_SCHEMA,
  decodeLimitError,
  definePlugin,
  resolveDecodeLimits,
  RpcError,
  type DecodeLimits,
  type Serializer,
} from '@plexus/kernel/spi';
import { ProtobufErrors, serializationError } from './errors';
import { DEFAULT_MAX_MESSAGE_SIZE } from './message-codec';

/** Options of {@link ProtobufSerializer}; all optional. */
export interface ProtobufSerializerOptions extends DecodeLimits {
  /** Largest body encoded or decoded, in bytes (default 4 MiB, as the grpc protocol's messages). */
  maxMessageSize?: number;
}

/** JSON schema of {@link ProtobufSerializerOptions}, checked by the loader. */
export const PROTOBUF_OPTIONS_SCHEMA = {
  type: 'object',
  properties: {
    ...DECODE_LIMITS_SCHEMA,
    maxMessageSize: { type: 'integer', minimum: 16, maximum: 0x7fffffff, default: DEFAULT_MAX_MESSAGE_SIZE },
  },
  additionalProperties: false,
} as const;

const NAME = 'protobuf';
/** Deepest nesting written: far past any decoder's default (100), short of a stack overflow; catches cycles. */
const MAX_ENCODE_DEPTH = 1000;
const TYPE = 'google.protobuf.Value';
// Field numbers of google/protobuf/struct.proto.
const NULL_VALUE = 1;
const NUMBER_VALUE = 2;
const STRING_VALUE = 3;
const BOOL_VALUE = 4;
const STRUCT_VALUE = 5;
const LIST_VALUE = 6;
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/**
 * The `protobuf` serializer: a schema-less body for protocols that carry any value (the plexus
 * protocol): every value as a `google.protobuf.Value` (struct.proto's well-known type: null,
 * number, string, bool, Struct, ListValue), so any protobuf runtime can read it with the well-known
 * types. Numbers are doubles (as in JSON), objects are Structs, `undefined` members are left out,
 * `toJSON` is honoured. Per-method messages from a `.proto` are the grpc protocol's business
 * ({@link loadProto}).
 *
 * Decoding is written here, not left to protobufjs: it checks every length against the bytes
 * present, counts containers against {@link DecodeLimits} before building them, and builds objects
 * with `Object.prototype` and own data properties only (a `__proto__` key stays a key).
 * Scope: one instance per application; stateless, re-entrant.
 */
export class ProtobufSerializer implements Serializer {
  readonly id = 3;
  readonly name = NAME;
  private readonly maxMessageSize: number;
  private readonly limits: DecodeLimits;

  constructor(options: ProtobufSerializerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.limits = { maxDepth: options.maxDepth, maxElements: options.maxElements };
  }

  serialize(value: unknown): Uint8Array {
    const w = Writer.create();
    try {
      writeValue(w, value, 0, MAX_ENCODE_DEPTH);
    } catch (err) {
      throw isRpcError(err) ? err : serializationError(ProtobufErrors.ENCODE, TYPE, RpcError.fromThrown(err).message);
    }
    const bytes = w.finish();
    if (bytes.length > this.maxMessageSize) throw serializationError(ProtobufErrors.TOO_LARGE, TYPE, bytes.length, this.maxMessageSize);
    return bytes;
  }

  deserialize(bytes: Uint8Array, limits?: DecodeLimits): unknown {
    if (bytes.length > this.maxMessageSize) throw serializationError(ProtobufErrors.TOO_LARGE, TYPE, bytes.length, this.maxMessageSize);
    const l = resolveDecodeLimits(this.limits, limits);
    const r = new ValueReader(bytes, l.maxDepth, l.maxElements);
    const value = r.value(0, bytes.length, 0);
    return value;
  }
}

/** `RpcError.is` that survives a thrown Proxy whose every trap throws. */
function isRpcError(err: unknown): boolean {
  try {
    return RpcError.is(err);
  } catch {
    return false;
  }
}

function writeValue(w: Writer, value: unknown, depth: number, maxDepth: number): void {
  if (value === null || value === undefined) {
    w.uint32((NULL_VALUE << 3) | VARINT).uint32(0);
    return;
  }
  switch (typeof value) {
    case 'number':
      w.uint32((NUMBER_VALUE << 3) | FIXED64).double(value);
      return;
    case 'string':
      w.uint32((STRING_VALUE << 3) | LEN).string(value);
      return;
    case 'boolean':
      w.uint32((BOOL_VALUE << 3) | VARINT).bool(value);
      return;
    case 'object':
      break;
    default:
      throw serializationError(ProtobufErrors.ENCODE, TYPE, `a ${typeof value} has no google.protobuf.Value form; send plain data (numbers, strings, booleans, null, arrays, objects)`);
  }
  if (ArrayBuffer.isView(value)) throw serializationError(ProtobufErrors.ENCODE, TYPE, 'binary data has no google.protobuf.Value form; send it base64 in a string, or use msgpack');
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') {
    writeValue(w, json.call(value), depth, maxDepth);
    return;
  }
  if (depth >= maxDepth) throw serializationError(ProtobufErrors.ENCODE, TYPE, `the value nests containers deeper than ${maxDepth} (a cycle?)`);
  if (Array.isArray(value)) {
    w.uint32((LIST_VALUE << 3) | LEN).fork();
    for (const item of value) {
      w.uint32((1 << 3) | LEN).fork();
      writeValue(w, item, depth + 1, maxDepth);
      w.ldelim();
    }
    w.ldelim();
    return;
  }
  w.uint32((STRUCT_VALUE << 3) | LEN).fork();
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    w.uint32((1 << 3) | LEN).fork();
    w.uint32((1 << 3) | LEN).string(key);
    w.uint32((2 << 3) | LEN).fork();
    writeValue(w, item, depth + 1, maxDepth);
    w.ldelim();
    w.ldelim();
  }
  w.ldelim();
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A bounded reader of google.protobuf.Value bodies. */
class ValueReader {
  private elements = 0;
  private readonly view: DataView;
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly maxDepth: number,
    private readonly maxElements: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private fail(detail: string): never {
    throw serializationError(ProtobufErrors.DECODE, TYPE, this.buf.length, detail);
  }

  private varint(end: number): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      if (shift < 49) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
    this.fail('varint longer than 10 bytes');
  }

  /** The end of a length-delimited field starting at pos, checked against `end`. */
  private lengthEnd(end: number): number {
    const n = this.varint(end);
    if (n > end - this.pos) this.fail(`a field declares ${n} bytes, ${end - this.pos} are left`);
    return this.pos + n;
  }

  private skip(wire: number, end: number): void {
    switch (wire) {
      case VARINT:
        this.varint(end);
        return;
      case FIXED64:
        if (end - this.pos < 8) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case LEN:
        this.pos = this.lengthEnd(end);
        return;
      case FIXED32:
        if (end - this.pos < 4) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`wire type ${wire} is not supported`);
    }
  }

  private count(): void {
    if (++this.elements > this.maxElements) throw decodeLimitError(NAME, 'maxElements', this.maxElements, this.buf.length);
  }

  /** A Value spanning [start, end); `depth` containers enclose it. */
  value(start: number, end: number, depth: number): unknown {
    this.pos = start;
    let out: unknown;
    let set = false;
    while (this.pos < end) {
      const tag = this.varint(end);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === NULL_VALUE && wire === VARINT) {
        this.varint(end);
        out = null;
      } else if (field === NUMBER_VALUE && wire === FIXED64) {
        if (end - this.pos < 8) this.fail('truncated double');
        out = this.view.getFloat64(this.pos, true);
        this.pos += 8;
      } else if (field === STRING_VALUE && wire === LEN) {
        const e = this.lengthEnd(end);
        try {
          out = decoder.decode(this.buf.subarray(this.pos, e));
        } catch {
          this.fail('a string is not valid UTF-8');
        }
        this.pos = e;
      } else if (field === BOOL_VALUE && wire === VARINT) {
        out = this.varint(end) !== 0;
      } else if ((field === STRUCT_VALUE || field === LIST_VALUE) && wire === LEN) {
        if (depth + 1 > this.maxDepth) throw decodeLimitError(NAME, 'maxDepth', this.maxDepth, this.buf.length);
        const e = this.lengthEnd(end);
        out = field === LIST_VALUE ? this.list(this.pos, e, depth + 1) : this.struct(this.pos, e, depth + 1);
        this.pos = e;
      } else {
        this.skip(wire, end);
        continue;
      }
      set = true;
    }
    if (this.pos !== end) this.fail('a field runs past its message');
    if (!set) {
      // A body must say what it is; inside a container an empty Value is a default, null.
      if (depth === 0) this.fail('no value field (null, number, string, bool, struct or list) is set');
      return null;
    }
    return out;
  }

  private list(start: number, end: number, depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos = start;
    while (this.pos < end) {
      const tag = this.varint(end);
      if (tag !== ((1 << 3) | LEN)) {
        this.skip(tag & 7, end);
        continue;
      }
      this.count();
      const e = this.lengthEnd(end);
      out.push(this.value(this.pos, e, depth));
      this.pos = e;
    }
    return out;
  }

  private struct(start: number, end: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos = start;
    while (this.pos < end) {
      const tag = this.varint(end);
      if (tag !== ((1 << 3) | LEN)) {
        this.skip(tag & 7, end);
        continue;
      }
      this.count();
      const entryEnd = this.lengthEnd(end);
      let key = '';
      let item: unknown = null;
      while (this.pos < entryEnd) {
        const t = this.varint(entryEnd);
        if (t === ((1 << 3) | LEN)) {
          const e = this.lengthEnd(entryEnd);
          try {
            key = decoder.decode(this.buf.subarray(this.pos, e));
          } catch {
            this.fail('a key is not valid UTF-8');
          }
          this.pos = e;
        } else if (t === ((2 << 3) | LEN)) {
          const e = this.lengthEnd(entryEnd);
          item = this.value(this.pos, e, depth);
          this.pos = e;
        } else this.skip(t & 7, entryEnd);
      }
      // An own data property whatever the key: `__proto__` never reaches the prototype.
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

export default definePlugin({
  name: '@plexus/serializer-protobuf',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'serializer',
      name: NAME,
      id: 3,
      optionsSchema: PROTOBUF_OPTIONS_SCHEMA as unknown as Record<string, unknown>,
      create: (ctx) => new ProtobufSerializer(ctx.options as ProtobufSerializerOptions),
    },
  ],
});
