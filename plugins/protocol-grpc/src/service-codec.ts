import { RpcCode, RpcError, type Serializer } from '@plexus/kernel/spi';
import type { ProtoMethod, ProtoService } from '@plexus/serializer-protobuf';
import { GrpcErrors, rpcError } from './errors';

/**
 * How one service's messages travel: protobuf from its `.proto` (`application/grpc+proto`) or,
 * when it has none, plain bodies — JSON (`application/grpc+json`), or the serializer the service
 * names (`serializer: msgpack` → `application/grpc+msgpack`; a server also reads such bodies under
 * the bare `application/grpc` that grpc-js sends whatever its serialize functions do). Scope: per
 * exported service or referenced service; immutable.
 *
 * A gRPC method takes one request message: it is the call's one argument (`args[0]`). Over JSON a
 * Plexus client calling a method with another number of arguments sends the array of all of them
 * and says so in `plexus-args: array`.
 */
export class ServiceCodec {
  private jsonCodec: ServiceCodec | undefined;

  constructor(
    readonly name: string,
    readonly proto: ProtoService | undefined,
    /** The serializer of bodies without a `.proto` method. */
    private readonly plain: Serializer,
    /** Its content subtype: `json`, or the serializer's name. */
    readonly plainType = 'json',
    private readonly jsonSerializer: Serializer = plain,
  ) {}

  /** The same service with JSON plain bodies: what an `application/grpc+json` request is read with. */
  json(): ServiceCodec {
    if (this.plainType === 'json') return this;
    return (this.jsonCodec ??= new ServiceCodec(this.name, this.proto, this.jsonSerializer, 'json'));
  }

  /** The `.proto` method, undefined for a JSON service; throws UNKNOWN_METHOD when the `.proto` lacks it. */
  protoMethod(method: string): ProtoMethod | undefined {
    if (this.proto === undefined) return undefined;
    const m = this.proto.find(method);
    if (m === undefined) throw rpcError(GrpcErrors.UNKNOWN_METHOD, RpcCode.METHOD_NOT_FOUND, this.name, method, this.proto.methods.join(', ') || '(none)');
    return m;
  }

  encodeRequest(m: ProtoMethod | undefined, args: readonly unknown[]): { body: Uint8Array; array: boolean } {
    if (m !== undefined) {
      if (args.length > 1) throw new RpcError(`${this.name}.${m.name} takes one request message (${m.request.name}); ${args.length} arguments were given`, RpcCode.BAD_REQUEST, { reason: GrpcErrors.BAD_MESSAGE.code });
      return { body: m.request.encode(args[0]), array: false };
    }
    const array = args.length !== 1;
    return { body: this.plain.serialize(array ? args : args[0]), array };
  }

  decodeRequest(m: ProtoMethod | undefined, body: Uint8Array, array: boolean): unknown[] {
    if (m !== undefined) return [m.request.decode(body)];
    const value = body.length === 0 ? undefined : this.plain.deserialize(body);
    if (!array) return [value];
    if (!Array.isArray(value)) throw new RpcError('plexus-args: array was sent, but the body is not a JSON array', RpcCode.BAD_REQUEST, { reason: GrpcErrors.BAD_MESSAGE.code });
    return value;
  }

  /** One message of a client stream (the `.proto`'s request type, or JSON). */
  encodeRequestItem(m: ProtoMethod | undefined, value: unknown): Uint8Array {
    return m !== undefined ? m.request.encode(value) : this.plain.serialize(value ?? null);
  }

  decodeRequestItem(m: ProtoMethod | undefined, body: Uint8Array): unknown {
    return m !== undefined ? m.request.decode(body) : body.length === 0 ? undefined : this.plain.deserialize(body);
  }

  /** A stream's messages in the other direction are the response type: `encodeResponse` / `decodeResponse`. */
  encodeResponse(m: ProtoMethod | undefined, value: unknown): Uint8Array {
    return m !== undefined ? m.response.encode(value) : this.plain.serialize(value ?? null);
  }

  decodeResponse(m: ProtoMethod | undefined, body: Uint8Array): unknown {
    return m !== undefined ? m.response.decode(body) : body.length === 0 ? undefined : this.plain.deserialize(body);
  }
}
