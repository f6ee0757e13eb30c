/**
 * The grpc peer's service, defined generically (no .proto): one unary method whose messages are
 * MessagePack, the same encoding Plexus uses by default.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { standardPackr, type BenchPayload } from '../payload';

const encode = (value: BenchPayload): Buffer => standardPackr.pack(value);
const decode = (bytes: Buffer): BenchPayload => standardPackr.unpack(bytes) as BenchPayload;

/** `bench.Echo/Echo`: unary, MessagePack request and response. */
export const echoService: ServiceDefinition = {
  echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: encode,
    requestDeserialize: decode,
    responseSerialize: encode,
    responseDeserialize: decode,
  },
};
