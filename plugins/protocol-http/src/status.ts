import { RpcCode } from '@plexus/kernel/spi';

/**
 * HTTP status of each RpcCode on the way out. Several codes share a status; the exact code
 * travels in the JSON error body, so a Plexus client gets it back unchanged.
 */
const STATUS_OF: Readonly<Record<RpcCode, number>> = {
  [RpcCode.BAD_REQUEST]: 400,
  [RpcCode.SERIALIZATION]: 400,
  [RpcCode.FORBIDDEN]: 403,
  [RpcCode.SERVICE_NOT_FOUND]: 404,
  [RpcCode.METHOD_NOT_FOUND]: 404,
  [RpcCode.TIMEOUT]: 408,
  [RpcCode.PAYLOAD_TOO_LARGE]: 413,
  [RpcCode.LIMIT_EXCEEDED]: 429,
  [RpcCode.SERVICE_ERROR]: 500,
  [RpcCode.SERVER_ERROR]: 500,
  [RpcCode.UNKNOWN]: 500,
  [RpcCode.BAD_RESPONSE]: 502,
  [RpcCode.NETWORK]: 502,
  [RpcCode.NO_PROVIDER]: 503,
  [RpcCode.SHUTTING_DOWN]: 503,
  [RpcCode.EXECUTOR_EXHAUSTED]: 503,
  [RpcCode.CANCELLED]: 499,
  [RpcCode.SERVER_TIMEOUT]: 504,
};

/** The status an error of `code` is answered with. */
export function statusOfCode(code: RpcCode): number {
  return STATUS_OF[code] ?? 500;
}

/** The RpcCode a client assumes for a status whose body carries none (a proxy's page, say). */
export function codeOfStatus(status: number): RpcCode {
  switch (status) {
    case 400:
    case 415:
    case 405:
    case 431:
      return RpcCode.BAD_REQUEST;
    case 403:
    case 401:
      return RpcCode.FORBIDDEN;
    case 404:
      return RpcCode.SERVICE_NOT_FOUND;
    case 408:
      return RpcCode.TIMEOUT;
    case 413:
      return RpcCode.PAYLOAD_TOO_LARGE;
    case 429:
      return RpcCode.LIMIT_EXCEEDED;
    case 502:
      return RpcCode.NETWORK;
    case 503:
      return RpcCode.SHUTTING_DOWN;
    case 504:
      return RpcCode.SERVER_TIMEOUT;
    default:
      return status >= 500 ? RpcCode.SERVER_ERROR : RpcCode.UNKNOWN;
  }
}
