import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { EXTENSION_POINTS } from '../spi/points';

/**
 * The JSON schema of a config as users write it (after the layers are merged), and its one
 * compiled validator. Also walked by the `PLEXUS_*` mapping, so the two never disagree on a key.
 */

/** The part of JSON schema this module uses. `plexusMessage` replaces ajv's wording for a value. */
export interface ConfigSchemaNode {
  $ref?: string;
  $defs?: Record<string, ConfigSchemaNode>;
  type?: string | string[];
  description?: string;
  properties?: Record<string, ConfigSchemaNode>;
  patternProperties?: Record<string, ConfigSchemaNode>;
  additionalProperties?: boolean | ConfigSchemaNode;
  items?: ConfigSchemaNode;
  required?: string[];
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  plexusMessage?: string;
}

/**
 * A plugin's own key at a call level is namespaced with a dot (`consistenthash.arguments: 0`), so
 * it can never be mistaken for a misspelt built-in key.
 */
export const PLUGIN_KEY_PATTERN = '^[A-Za-z][\\w-]*(\\.[\\w-]+)+$';

const name = (description: string): ConfigSchemaNode => ({ type: 'string', minLength: 1, description });
const text = (description: string): ConfigSchemaNode => ({ type: 'string', description });
const ms = (description: string): ConfigSchemaNode => ({ type: 'number', minimum: 0, description: `${description} (ms)` });
const count = (description: string, minimum = 0): ConfigSchemaNode => ({ type: 'integer', minimum, description });
const flag = (description: string): ConfigSchemaNode => ({ type: 'boolean', description });
const names = (description: string): ConfigSchemaNode => ({
  type: ['string', 'array'],
  items: { type: 'string', minLength: 1 },
  description,
});

/**
 * Keys of DESIGN §5 that plugins read, and the plugin that would: a config naming one is refused
 * unless a loaded plugin claims it (`ExtensionDefinition.keys`), with a message naming that plugin.
 * The kernel's own schema keeps only the keys the kernel reads.
 */
export const PLUGIN_KEYS: Readonly<Record<string, { point: string; name: string; plugin: string }>> = {
  tag: { point: 'router', name: 'tag', plugin: '@plexus/router' },
  token: { point: 'filter', name: 'token', plugin: '@plexus/filters' },
  tps: { point: 'filter', name: 'ratelimit', plugin: '@plexus/filters' },
  actives: { point: 'filter', name: 'concurrency', plugin: '@plexus/filters' },
  executes: { point: 'filter', name: 'concurrency', plugin: '@plexus/filters' },
  circuitbreaker: { point: 'filter', name: 'circuitbreaker', plugin: '@plexus/filters' },
  mock: { point: 'filter', name: 'mock', plugin: '@plexus/filters' },
  accesslog: { point: 'filter', name: 'accesslog', plugin: '@plexus/filters' },
  health: { point: 'filter', name: 'health', plugin: '@plexus/filters' },
  forks: { point: 'cluster', name: 'forking', plugin: '@plexus/cluster' },
  sticky: { point: 'cluster', name: 'failover', plugin: '@plexus/cluster' },
  hash: { point: 'loadbalance', name: 'consistenthash', plugin: '@plexus/loadbalance' },
};

/** Keys valid at provider/consumer, service/reference and method level (Dubbo's names), read by the kernel. */
export const CALL_KEYS: Record<string, ConfigSchemaNode> = {
  timeout: ms('how long a call may take; 0 = no limit'),
  retries: count('extra attempts after the first (failover)'),
  cluster: name('fault-tolerance policy: failover, failfast, failsafe, failback, forking, broadcast, available'),
  loadbalance: name('node choice: random, roundrobin, leastactive, shortestresponse, consistenthash, p2c'),
  serializer: name('body encoding: msgpack, json'),
  compressor: name('body compression: identity, lz4, snappy, gzip'),
  compressThreshold: count('bodies smaller than this many bytes are not compressed'),
  filter: names('filters to add ("a"), remove ("-a") or drop all defaults ("-default"); "a,-b" or a list'),
  weight: count('provider weight for load balancing; 0 drains the provider'),
  warmup: ms('time over which a new provider ramps up to its full weight'),
  delay: ms('wait before registering an exported service (provider defaults or a service)'),
  group: text('service group'),
  version: text('service version'),
  idempotent: flag('false stops failover from retrying the method'),
  oneWay: flag('send without waiting for a response'),
  stream: flag('the method answers with a stream: the proxy returns an AsyncIterable at once'),
  shutdownTimeout: ms('how long stop() waits for in-flight calls'),
};

function level(extra: Record<string, ConfigSchemaNode>, description: string, required?: string[]): ConfigSchemaNode {
  const node: ConfigSchemaNode = {
    type: 'object',
    description,
    properties: { ...CALL_KEYS, ...extra },
    patternProperties: { [PLUGIN_KEY_PATTERN]: { type: ['string', 'number', 'boolean'], description: "a plugin's own key" } },
    additionalProperties: false,
  };
  if (required) node.required = required;
  return node;
}

/** Keys only a provider reads (registration delay, weight, warmup, stop): refused on the consumer side. */
export const PROVIDER_ONLY: readonly string[] = ['delay', 'weight', 'warmup', 'shutdownTimeout'];

/** Keys only a consumer reads (how it retries and picks providers): refused on the provider side. */
export const CONSUMER_ONLY: readonly string[] = ['retries', 'cluster', 'loadbalance', 'stream'];

/** A level of the provider side: the call keys without the consumer-only ones, which would do nothing there. */
function providerSide(node: ConfigSchemaNode): ConfigSchemaNode {
  const properties = { ...node.properties };
  for (const k of CONSUMER_ONLY) delete properties[k];
  return { ...node, properties };
}

/** A level of the consumer side: the call keys without the provider-only ones, which would do nothing there. */
function consumerSide(node: ConfigSchemaNode): ConfigSchemaNode {
  const properties = { ...node.properties };
  for (const k of PROVIDER_ONLY) delete properties[k];
  return { ...node, properties };
}

/** One method's settings: the call keys except those that only make sense for a whole service or reference. */
function methodLevel(): ConfigSchemaNode {
  const node = level({}, 'settings of one method');
  const { filter: _f, delay: _d, weight: _w, warmup: _u, group: _g, version: _v, shutdownTimeout: _s, ...keys } = node.properties!;
  return { ...node, properties: keys };
}

/** Shared by services and references through a `$ref`, so ajv compiles it once. */
const methods: ConfigSchemaNode = {
  type: 'object',
  description: 'per-method settings by method name; on a service it also restricts the callable methods',
  additionalProperties: { $ref: '#/$defs/method' },
};

const executorKeys = {
  executor: name('where provider work runs: direct, limited, worker'),
  threads: count('limited/worker executor: calls (or workers) at once', 1),
  queues: count('limited/worker executor: calls that may wait; 0 = refuse when busy'),
};

const protocolEntry: ConfigSchemaNode = {
  type: 'object',
  description: 'a protocol this process serves and calls with; other keys are the protocol plugin\'s options',
  properties: {
    name: name('protocol name: plexus, injvm, http'),
    host: text('address to listen on'),
    port: { type: 'integer', minimum: 0, maximum: 65535, description: 'port to listen on; 0 = any free port' },
    path: text('Unix socket path instead of host and port'),
    serializer: name('default serializer on this protocol'),
    compressor: name('default compressor on this protocol'),
    compressThreshold: count('bodies smaller than this many bytes are not compressed'),
    transport: name('socket layer: tcp'),
    payload: count('largest message in bytes', 1),
    connections: count('client connections per provider address', 1),
    heartbeat: ms('idle time before a heartbeat'),
    tls: { type: ['object', 'boolean'], description: 'TLS options (key, cert, ca, ...) or true' },
  },
  additionalProperties: true,
};

const registry: ConfigSchemaNode = {
  type: ['string', 'object'],
  description: 'service discovery; absent = direct URLs and in-process calls only',
  pattern: '^[A-Za-z][A-Za-z0-9+.-]*://',
  plexusMessage: 'must be a URL such as zookeeper://127.0.0.1:2181 or local:///var/plexus, or a mapping with a type',
  properties: {
    type: name('registry plugin: local, zookeeper, etcd, redis, nacos, direct'),
    address: text('where the registry is: host:port[,host:port], or a folder for local'),
    id: name('names this registry in logs and the snapshot when there are several (default: its type)'),
    snapshot: {
      type: ['string', 'boolean'],
      description: 'the disk snapshot of provider lists: a file path, or false for none (default ~/.plexus/registry-cache/<application>.json)',
    },
  },
  required: ['type'],
  additionalProperties: true,
};

const extensionPoints: Record<string, ConfigSchemaNode> = {};
for (const point of Object.keys(EXTENSION_POINTS)) {
  extensionPoints[point] = {
    type: 'object',
    description: `options of ${point} extensions, by extension name`,
    additionalProperties: { type: 'object', description: 'options of one extension, checked by its plugin' },
  };
}

/** The schema of the whole config. Frozen; export it to editors as JSON if you like. */
export const configSchema: ConfigSchemaNode = deepFreeze({
  type: 'object',
  $defs: { method: methodLevel() },
  properties: {
    $schema: text('a JSON schema URL for editors; ignored'),
    application: {
      type: 'object',
      description: 'who this process is',
      properties: {
        name: name('application name, shown in registries and logs'),
        owner: text('team or person responsible'),
        environment: text('e.g. dev, test, prod'),
        handleSignals: flag('stop gracefully on SIGTERM/SIGINT once services are exported (default true)'),
        handleErrors: flag('log unhandled rejections and exceptions of provider code with the call they came from, and keep serving (default true)'),
      },
      patternProperties: { [PLUGIN_KEY_PATTERN]: { type: ['string', 'number', 'boolean'] } },
      additionalProperties: false,
    },
    logLevel: { enum: ['debug', 'info', 'warn', 'error', 'silent'], description: 'console logger level' },
    plugins: { type: 'array', items: name('a package name or a path to a local module'), description: 'extra plugins' },
    registry,
    registries: { type: 'array', items: registry, description: 'several registries at once; providers register with all, consumers merge their lists' },
    qos: {
      type: 'object',
      description: 'the admin HTTP server and console (@plexus/qos); off when absent',
      properties: {
        host: name('interface the admin server listens on (default 127.0.0.1: it can take services offline)'),
        port: { type: 'integer', minimum: 0, maximum: 65535, description: 'TCP port of the admin server; 0 picks a free one' },
        token: { type: 'string', minLength: 1, description: 'when set, POST /offline, /online and /weight want Authorization: Bearer <token>' },
      },
      required: ['port'],
      additionalProperties: false,
    },
    protocol: {
      type: 'object',
      description: 'one protocol (shorthand for protocols: [ ... ])',
      plexusMessage: 'must be a mapping such as { name: plexus, port: 20880 } or a protocol name',
    },
    protocols: { type: 'array', items: protocolEntry, description: 'the protocols this process serves' },
    provider: providerSide(level(executorKeys, 'defaults of every service')),
    consumer: consumerSide(
      level(
        {
          check: flag('fail start() when a reference has no provider'),
          router: names('routers of every reference (router plugins)'),
          checkTimeout: ms('how long start() waits for a registry to list providers when check is on'),
        },
        'defaults of every reference',
      ),
    ),
    services: {
      type: 'array',
      description: 'services this process provides',
      items: providerSide(level(
        {
          interface: name('service name, e.g. demo.Greeter'),
          implementation: { description: 'module path (relative to the config file) or, in code, the object' },
          protocol: names('protocols to export on; default all'),
          expose: names('the allow-list of callable methods; default every own method of the implementation'),
          proto: text('a .proto file (relative to the config file) declaring this service: the grpc protocol speaks protobuf from it'),
          methods,
          ...executorKeys,
        },
        'one provided service',
        ['interface'],
      )),
    },
    references: {
      type: 'object',
      description: 'services this process calls, by id',
      additionalProperties: consumerSide(level(
        {
          interface: name('service name, e.g. demo.Greeter'),
          url: text('direct provider URL(s), comma separated; bypasses the registry'),
          protocol: name('protocol to call with'),
          check: flag('fail start() when no provider is available'),
          router: names('routers of this reference, in order (router plugins)'),
          proto: text('a .proto file (relative to the config file) declaring this service: the grpc protocol speaks protobuf from it'),
          group: names('service group; "*" takes every group, a list (or "a,b") merges the providers of those groups'),
          methods,
        },
        'one reference',
        ['interface'],
      )),
    },
    extensions: {
      type: 'object',
      description: 'per-extension options: extensions.<point>.<name>.<option>',
      properties: extensionPoints,
      additionalProperties: false,
    },
  },
  additionalProperties: false,
});

/** `{ $ref: '#/$defs/method' }` → the definition; other nodes as they are. */
export function deref(node: ConfigSchemaNode | undefined): ConfigSchemaNode | undefined {
  const ref = node?.$ref;
  if (ref === undefined) return node;
  return configSchema.$defs?.[ref.slice(ref.lastIndexOf('/') + 1)];
}

let validator: ValidateFunction | undefined;

/**
 * Validates merged config data; the schema is compiled on first use, once per process. Code
 * optimisation is off: it halves the compile time, and validation runs once at startup.
 */
export function validateShape(data: unknown): readonly ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true, code: { optimize: false } });
    ajv.addVocabulary(['plexusMessage']);
    validator = ajv.compile(configSchema);
  }
  return validator(data) ? [] : (validator.errors ?? []);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
