import { defineError, RpcCode, RpcError } from '@plexus/kernel/spi';

/**
 * The http protocol's errors. Each rides in `RpcError.reason` (and in the `reason` field of an
 * error body); connection-level problems are logged with the code in the `code` field.
 */
export const HttpErrors = {
  ROUTE: defineError(
    'PLEXUS_ERR_HTTP_ROUTE',
    (method: string, path: string) => `${method} ${path} is not a call: calls are POST /<interface>/<method>, and GET / lists the services`,
    'POST a JSON array of arguments to /<interface>/<method>, e.g. curl -H "content-type: application/json" -d \'[40,2]\' http://host:8080/acc.Echo/add',
  ),
  METHOD_NOT_ALLOWED: defineError(
    'PLEXUS_ERR_HTTP_METHOD_NOT_ALLOWED',
    (method: string, path: string) => `${method} ${path}: calls take POST (GET only on /)`,
    'send the call as POST with a JSON array of arguments.',
  ),
  MEDIA_TYPE: defineError(
    'PLEXUS_ERR_HTTP_MEDIA_TYPE',
    (type: string) => `content-type "${type}" is refused: the body must be application/json`,
    'add -H "content-type: application/json" (curl -d sends a form type by default); browsers then ask CORS first, which keeps other sites from calling.',
  ),
  STREAMING: defineError(
    'PLEXUS_ERR_HTTP_STREAMING',
    (call: string) => `${call} answers with a stream, which the http protocol does not carry (one JSON body per call)`,
    'call streaming methods over the plexus or grpc protocol (a service may be exported on several: protocols: [plexus, http]).',
  ),
  BAD_JSON: defineError(
    'PLEXUS_ERR_HTTP_BAD_JSON',
    (call: string, cause: string) => `the body of ${call} is not valid JSON: ${cause}`,
    'send a JSON array of the arguments, e.g. [40,2] or ["ada"]; an empty body means no arguments.',
  ),
  BAD_BODY: defineError(
    'PLEXUS_ERR_HTTP_BAD_BODY',
    (call: string, got: string) => `the body of ${call} must be a JSON array of arguments, got ${got}`,
    'wrap the arguments in an array: one argument {"a":1} is sent as [{"a":1}].',
  ),
  BAD_HEADER: defineError(
    'PLEXUS_ERR_HTTP_BAD_HEADER',
    (header: string, detail: string) => `header ${header}: ${detail}`,
    'plexus-timeout is a whole number of milliseconds; send at most `maxAttachments` plexus-attachment-* headers.',
  ),
  PAYLOAD_TOO_LARGE: defineError(
    'PLEXUS_ERR_HTTP_PAYLOAD_TOO_LARGE',
    (what: string, size: string, limit: number) => `${what} is ${size} bytes, over the limit of ${limit} bytes`,
    'raise `payload` of the http protocol entry on both sides, or send less per call.',
  ),
  SERVICE_NOT_FOUND: defineError(
    'PLEXUS_ERR_HTTP_SERVICE_NOT_FOUND',
    (key: string, address: string, known: string) => `no service ${key} is exported at ${address}; exported: ${known}`,
    'check the interface in the path and the plexus-version / plexus-group headers against GET / of the provider.',
  ),
  SHUTTING_DOWN: defineError(
    'PLEXUS_ERR_HTTP_SHUTTING_DOWN',
    (address: string) => `provider ${address} is shutting down and accepts no new calls`,
    'the call is retryable; failover sends it to another provider.',
  ),
  CONNECTION_LOST: defineError(
    'PLEXUS_ERR_HTTP_CONNECTION_LOST',
    (remote: string) => `the client ${remote} closed the connection before the call was answered`,
    'nothing to fix on the provider; an implementation can stop early by watching Plexus.context().signal.',
  ),
  WRITE_STALLED: defineError(
    'PLEXUS_ERR_HTTP_WRITE_STALLED',
    (remote: string, ms: number, bytes: number) => `client ${remote} read nothing of its response for ${ms} ms (${bytes} bytes waiting); closing the connection`,
    'the client hung or reads too slowly; raise `writeTimeout` of the http protocol if it is merely slow.',
  ),
  CONNECT: defineError(
    'PLEXUS_ERR_HTTP_CONNECT',
    (address: string, cause: string) => `cannot reach http provider ${address}: ${cause}`,
    'check that the provider is running and serves the http protocol on that port; the call is retryable on another provider.',
  ),
  DISCONNECTED: defineError(
    'PLEXUS_ERR_HTTP_DISCONNECTED',
    (call: string, address: string, cause: string) => `connection to ${address} failed before ${call} was answered: ${cause}`,
    'the provider stopped or the network failed; failover retries on another provider when the method is idempotent.',
  ),
  BAD_RESPONSE: defineError(
    'PLEXUS_ERR_HTTP_BAD_RESPONSE',
    (call: string, address: string, detail: string) => `the answer of ${address} to ${call} is unusable: ${detail}`,
    'check that the url points at a Plexus http provider (not another HTTP server), and that both run released versions.',
  ),
  CANCELLED: defineError(
    'PLEXUS_ERR_HTTP_CANCELLED',
    (call: string, address: string) => `call ${call} to ${address} was cancelled: the protocol was destroyed`,
    'do not call through a reference after the application stopped.',
  ),
} as const;

/** An RpcError whose message and reason come from a catalogue entry. */
export function rpcError<A extends unknown[]>(def: { (...args: A): Error; code: string }, code: RpcCode, ...args: A): RpcError {
  return new RpcError(def(...args).message, code, { reason: def.code });
}
