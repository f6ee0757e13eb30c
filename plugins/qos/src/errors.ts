import { defineError } from '@plexus/kernel/spi';

/** The admin server's errors; an HTTP answer carries `{ code, message, hint }` of one of these. */
export const QosHttpErrors = {
  PORT_IN_USE: defineError(
    'PLEXUS_ERR_QOS_PORT_IN_USE',
    (host: string, port: number, cause: string) => `qos.port: the admin server cannot listen on ${host}:${port} (${cause})`,
    'Another process holds qos.port: pick a free port for qos.port (0 picks one), or stop the other process.',
  ),
  NOT_FOUND: defineError(
    'PLEXUS_ERR_QOS_NOT_FOUND',
    (path: string, endpoints: string[]) => `no admin endpoint ${path}; the endpoints are: ${endpoints.join(', ')}`,
    'Use one of the listed endpoints (DESIGN §11); the console is at /.',
  ),
  METHOD: defineError(
    'PLEXUS_ERR_QOS_METHOD',
    (method: string, path: string, allowed: string) => `${path} does not take ${method}; it takes ${allowed}`,
    'Read endpoints take GET; /offline, /online and /weight take POST (curl -X POST).',
  ),
  UNAUTHORIZED: defineError(
    'PLEXUS_ERR_QOS_UNAUTHORIZED',
    (path: string) => `${path} needs the admin token`,
    'Send the value of qos.token as "Authorization: Bearer <token>" (the console has a token field).',
  ),
  FORBIDDEN: defineError(
    'PLEXUS_ERR_QOS_FORBIDDEN',
    (why: string) => `refused: ${why}`,
    'Call the admin server directly (curl, a probe, the console it serves); pages of other sites may not use it.',
  ),
  BAD_REQUEST: defineError(
    'PLEXUS_ERR_QOS_BAD_REQUEST',
    (why: string) => `bad admin request: ${why}`,
    'Pass parameters once each in the query string (?interface=...); mutating requests take no body.',
  ),
  BODY_TOO_LARGE: defineError(
    'PLEXUS_ERR_QOS_BODY_TOO_LARGE',
    (limit: number) => `the request body is over ${limit} bytes`,
    'Admin requests take their parameters in the query string; send no body.',
  ),
  NO_METRICS: defineError(
    'PLEXUS_ERR_QOS_NO_METRICS',
    (cause: string) => `no metrics: prom-client cannot be loaded (${cause})`,
    'npm install @plexus/filter-metrics (it brings prom-client) and add `filter: [metrics]` to provider and/or consumer.',
  ),
};
