/**
 * The peers the RPC bench compares. Each is a server script and a client script in `dist/peers/`
 * plus the options passed to both.
 */

/** One peer of the comparison. */
export interface PeerSpec {
  /** Name used on the command line and in the report. */
  name: string;
  /** Script base name in dist/peers/ (`<script>-server.js`, `<script>-client.js`). */
  script: string;
  /** Passed to both processes. */
  options?: Record<string, unknown>;
  /** Shown for information only: no Plexus ratio target is attached to it. */
  info?: boolean;
  /** One line for the report and the README. */
  description: string;
  /**
   * Whether it can carry the 64 KiB binary payload (`--payload 64k`) as the same bytes as the
   * others: every msgpack peer can; a JSON peer would carry a 64 KiB array of numbers instead.
   */
  largePayload: boolean;
}

/** Every known peer, in report order. */
export const PEERS: readonly PeerSpec[] = [
  {
    name: 'raw',
    script: 'raw',
    options: { mode: 'coalesce' },
    description: 'framed TCP echo, pipelined, writes coalesced per turn: the machine limit',
    largePayload: true,
  },
  {
    name: 'raw-perframe',
    script: 'raw',
    options: { mode: 'perframe' },
    info: true,
    description: 'the same with one socket.write per frame (information only)',
    largePayload: true,
  },
  {
    name: 'raw-msgpack',
    script: 'raw',
    options: { mode: 'coalesce', codec: 'msgpack' },
    info: true,
    description: 'raw, plus msgpack encode/decode of every request and reply on both sides (information only)',
    largePayload: true,
  },
  { name: 'grpc', script: 'grpc', description: '@grpc/grpc-js unary call, msgpack messages, one channel', largePayload: true },
  {
    name: 'plexus-grpc',
    script: 'grpc-plexus',
    description: 'Plexus full pipeline over the grpc protocol (node:http2), answering the grpc peer\'s own grpc-js client: msgpack messages, one channel',
    largePayload: true,
  },
  {
    name: 'moleculer',
    script: 'moleculer',
    description: 'Moleculer brokers over the TCP transporter, JSON, static discovery',
    largePayload: false,
  },
  { name: 'plexus', script: 'plexus', description: 'Plexus full pipeline, plexus protocol, msgpack, direct URL', largePayload: true },
  {
    name: 'plexus-governed',
    script: 'plexus',
    options: { governed: true },
    description: 'plexus with the governance filters of @plexus/filters on both sides, configured but never hit (tps, actives, executes, circuit breaker)',
    largePayload: false,
  },
  {
    name: 'plexus-metrics',
    script: 'plexus',
    options: { metrics: true },
    description: 'plexus with filter: [metrics] of @plexus/filter-metrics on both sides (prom-client\'s global registry, never scraped)',
    largePayload: false,
  },
  {
    name: 'plexus-http',
    script: 'http-plexus',
    description: 'Plexus full pipeline over the http protocol (JSON over HTTP/1.1, keep-alive agent), direct http:// URL',
    largePayload: false,
  },
  {
    name: 'node-http',
    script: 'http-node',
    description: 'bare node:http JSON echo server, client POSTs over a keep-alive http.Agent: the floor for plexus-http',
    largePayload: false,
  },
  {
    name: 'plexus-observed',
    script: 'plexus',
    options: { observed: true },
    description: 'plexus with filter: [metrics, tracing] on both sides and a registered no-op tracer (no SDK: spans are not recorded)',
    largePayload: false,
  },
  {
    name: 'plexus-registry',
    script: 'plexus-registry',
    description: 'plexus, but the client finds the server through the embedded local registry (no URL)',
    largePayload: true,
  },
];

/** Names of every known peer. */
export const PEER_NAMES: readonly string[] = PEERS.map((p) => p.name);

/** Names of the peers that can carry the 64 KiB payload (the default peer list of `--payload 64k`). */
export const LARGE_PAYLOAD_PEER_NAMES: readonly string[] = PEERS.filter((p) => p.largePayload).map((p) => p.name);

/** Looks a peer up by name; throws listing the known names on a miss. */
export function peerByName(name: string): PeerSpec {
  const found = PEERS.find((p) => p.name === name);
  if (found === undefined) throw new Error(`Unknown peer "${name}". Known peers: ${PEER_NAMES.join(', ')}`);
  return found;
}
