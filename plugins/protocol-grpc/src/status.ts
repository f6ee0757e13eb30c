import { RpcCode, RpcError } from '@plexus/kernel/spi';

/** gRPC status codes (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

const STATUS_OF: Readonly<Record<RpcCode, GrpcStatus>> = {
  [RpcCode.CANCELLED]: GrpcStatus.CANCELLED,
  [RpcCode.UNKNOWN]: GrpcStatus.UNKNOWN,
  [RpcCode.SERVICE_ERROR]: GrpcStatus.UNKNOWN,
  [RpcCode.BAD_REQUEST]: GrpcStatus.INVALID_ARGUMENT,
  [RpcCode.TIMEOUT]: GrpcStatus.DEADLINE_EXCEEDED,
  [RpcCode.SERVER_TIMEOUT]: GrpcStatus.DEADLINE_EXCEEDED,
  [RpcCode.FORBIDDEN]: GrpcStatus.PERMISSION_DENIED,
  [RpcCode.LIMIT_EXCEEDED]: GrpcStatus.RESOURCE_EXHAUSTED,
  [RpcCode.EXECUTOR_EXHAUSTED]: GrpcStatus.RESOURCE_EXHAUSTED,
  [RpcCode.PAYLOAD_TOO_LARGE]: GrpcStatus.RESOURCE_EXHAUSTED,
  [RpcCode.SERVICE_NOT_FOUND]: GrpcStatus.UNIMPLEMENTED,
  [RpcCode.METHOD_NOT_FOUND]: GrpcStatus.UNIMPLEMENTED,
  [RpcCode.SERIALIZATION]: GrpcStatus.INTERNAL,
  [RpcCode.SERVER_ERROR]: GrpcStatus.INTERNAL,
  [RpcCode.BAD_RESPONSE]: GrpcStatus.INTERNAL,
  [RpcCode.SHUTTING_DOWN]: GrpcStatus.UNAVAILABLE,
  [RpcCode.NETWORK]: GrpcStatus.UNAVAILABLE,
  [RpcCode.NO_PROVIDER]: GrpcStatus.UNAVAILABLE,
};

/**
 * The gRPC status an error is answered with. A business error (`SERVICE_ERROR`) whose thrown value
 * carried a numeric `code` of 1–16 (grpc-js's `status.NOT_FOUND` and the like; the kernel keeps it
 * in `data.code`) is answered with that status, so implementations choose their status as they
 * would with grpc-js; any other business error is UNKNOWN, as grpc-js answers an uncoded throw.
 */
export function statusOfError(err: RpcError): GrpcStatus {
  if (err.code === RpcCode.SERVICE_ERROR) {
    const own = (err.data as { code?: unknown } | undefined)?.code;
    if (typeof own === 'number' && Number.isInteger(own) && own >= 1 && own <= 16) return own as GrpcStatus;
  }
  return STATUS_OF[err.code] ?? GrpcStatus.UNKNOWN;
}

/**
 * The RpcCode a client gives a gRPC status from a peer that sent no `plexus-code` (a grpc-js or
 * other gRPC server). Statuses that describe the request in the application's terms (NOT_FOUND,
 * ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, DATA_LOSS, UNKNOWN, INVALID_ARGUMENT)
 * are business errors: `SERVICE_ERROR`, with the status in `data.grpcStatus`.
 */
export function codeOfStatus(status: number, message: string): RpcCode {
  switch (status) {
    case GrpcStatus.CANCELLED:
      return RpcCode.CANCELLED;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return RpcCode.SERVER_TIMEOUT;
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.UNAUTHENTICATED:
      return RpcCode.FORBIDDEN;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return RpcCode.LIMIT_EXCEEDED;
    case GrpcStatus.UNIMPLEMENTED:
      return /service/i.test(message) && !/method/i.test(message) ? RpcCode.SERVICE_NOT_FOUND : RpcCode.METHOD_NOT_FOUND;
    case GrpcStatus.INTERNAL:
      return RpcCode.SERVER_ERROR;
    case GrpcStatus.UNAVAILABLE:
      return RpcCode.NETWORK;
    default:
      return RpcCode.SERVICE_ERROR;
  }
}
