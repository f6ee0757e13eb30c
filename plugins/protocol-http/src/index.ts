/**
 * `@plexus/protocol-http` — JSON over HTTP, curl-able. The kernel loads `dist/http-protocol.js`
 * through the package manifest; these exports are for tests and tools.
 */
export { HttpProtocol } from './http-protocol';
export { HttpInvoker } from './http-invoker';
export { HttpEndpoint, H as HttpHeaders } from './http-endpoint';
export { HttpErrors } from './errors';
export { statusOfCode, codeOfStatus } from './status';
export { type HttpProtocolOptions, optionsSchema, DEFAULT_PORT, DEFAULT_PAYLOAD } from './options';
