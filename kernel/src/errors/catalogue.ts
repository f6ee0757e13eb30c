import { defineError } from './plexus-error';

/**
 * The kernel's framework errors. Every code here has a row in docs/reference/errors.md and a test
 * keeps the two in step. Plugins define their own with `defineError` and list them in their README.
 */
export const ExtensionErrors = {
  NOT_FOUND: defineError(
    'PLEXUS_ERR_EXTENSION_NOT_FOUND',
    (point: string, name: string, available: string[], suggestion?: string, failures: string[] = []) =>
      `No ${point} named "${name}". Available: ${available.length ? available.join(', ') : '(none)'}.` +
      (suggestion ? ` Did you mean "${suggestion}"?` : '') +
      (failures.length ? `\n  plugins that failed to load:\n    ${failures.join('\n    ')}` : ''),
    'Fix the name in your config, or install the plugin that provides it (npm install @plexus/<point>-<name>) and list it under `plugins:` if its name is not conventional.',
  ),
  UNKNOWN_POINT: defineError(
    'PLEXUS_ERR_EXTENSION_UNKNOWN_POINT',
    (point: string, plugin: string, points: string[]) =>
      `Plugin "${plugin}" declares an extension for unknown point "${point}". Known points: ${points.join(', ')}.`,
    'Use one of the known extension points in the plugin manifest ("plexus.extensions[].point").',
  ),
  PLUGIN_LOAD: defineError(
    'PLEXUS_ERR_EXTENSION_PLUGIN_LOAD',
    (plugin: string, cause: string) => `Plugin "${plugin}" failed to load: ${cause}`,
    'Check the package is installed (npm ls), built, and that its manifest module paths exist.',
  ),
  KERNEL_RANGE: defineError(
    'PLEXUS_ERR_EXTENSION_KERNEL_RANGE',
    (plugin: string, range: string, version: string) =>
      `Plugin "${plugin}" needs @plexus/kernel ${range}, but ${version} is running.`,
    'Install a plugin version built for this kernel, or upgrade @plexus/kernel.',
  ),
  BAD_MODULE: defineError(
    'PLEXUS_ERR_EXTENSION_BAD_MODULE',
    (module: string, point: string, name: string) =>
      `Module "${module}" does not provide ${point} "${name}" (expected a default export from definePlugin or an @extension class).`,
    'Export `definePlugin({ name, extensions: [...] })` as the module default, or decorate the class with @extension.',
  ),
  CREATE: defineError(
    'PLEXUS_ERR_EXTENSION_CREATE',
    (point: string, name: string, plugin: string, cause: string) =>
      `plugin "${plugin}" failed to create ${point} "${name}": ${cause}`,
    'Check the options given under `extensions.<point>.<name>` in your config and the plugin README.',
  ),
  OPTIONS: defineError(
    'PLEXUS_ERR_EXTENSION_OPTIONS',
    (point: string, name: string, problems: string) => `Invalid options for ${point} "${name}": ${problems}`,
    'Fix the options under `extensions.<point>.<name>` as the plugin README describes.',
  ),
} as const;

export const AppErrors = {
  NO_REFERENCE: defineError(
    'PLEXUS_ERR_APP_NO_REFERENCE',
    (id: string, known: string[], suggestion?: string) =>
      `No reference "${id}" in the config. Known: ${known.length ? known.join(', ') : '(none)'}.` +
      (suggestion ? ` Did you mean "${suggestion}"?` : ''),
    'Declare it under `references:` in plexus.yaml, or use app.refer({ interface, ... }) in code.',
  ),
  IMPLEMENTATION: defineError(
    'PLEXUS_ERR_APP_IMPLEMENTATION',
    (iface: string, detail: string) => `Cannot use the implementation of service ${iface}: ${detail}`,
    'Give `implementation:` as a module path (relative to the config file) that exports an object or a class, or call app.provide(config, object).',
  ),
  NO_IMPLEMENTATION: defineError(
    'PLEXUS_ERR_APP_NO_IMPLEMENTATION',
    (iface: string) => `Service ${iface} has no implementation.`,
    'Give the service `implementation: ./module.js` in the config, or provide it in code with app.provide({ interface }, object).',
  ),
  IMPLEMENTATION_NOT_FOUND: defineError(
    'PLEXUS_ERR_APP_IMPLEMENTATION_NOT_FOUND',
    (iface: string, file: string) => `The implementation of service ${iface} was not found: ${file}.`,
    'Fix `implementation:` — a module path relative to the config file\'s folder (build TypeScript first: point at the .js).',
  ),
  NO_METHODS: defineError(
    'PLEXUS_ERR_APP_NO_METHODS',
    (iface: string) => `Service ${iface} declares no callable methods.`,
    'The implementation must have function members (own or from its class); `methods:` may only name existing ones.',
  ),
  NO_CONTEXT: defineError(
    'PLEXUS_ERR_APP_NO_CONTEXT',
    () => 'Plexus.context() was called outside a provider call.',
    'Call it inside a provider method (or code it awaits); use Plexus.currentContext() where there may be no call.',
  ),
  UNHANDLED: defineError(
    'PLEXUS_ERR_APP_UNHANDLED',
    (what: string, where: string, message: string) => `${what} in ${where}: ${message}`,
    'Await or catch the promise (or wrap the callback in try/catch) in that method; the provider kept serving other calls.',
  ),
  STATE: defineError(
    'PLEXUS_ERR_APP_STATE',
    (action: string, state: string) => `Cannot ${action}: the application is ${state}.`,
    'Call provide() before start(), and do not use the application after stop().',
  ),
  DUPLICATE_SERVICE: defineError(
    'PLEXUS_ERR_APP_DUPLICATE_SERVICE',
    (key: string) => `Service ${key} is provided twice.`,
    'Give the second one another version or group.',
  ),
  NO_PROTOCOL: defineError(
    'PLEXUS_ERR_APP_NO_PROTOCOL',
    (names: string[], iface: string) => `Service ${iface} asks for protocol(s) ${names.join(', ')} that are not configured.`,
    'Add them under `protocols:`, or fix the service\'s `protocol:` list.',
  ),
  NO_ROUTE: defineError(
    'PLEXUS_ERR_APP_NO_ROUTE',
    (iface: string) => `Reference ${iface} has no way to reach a provider: no url, no registry, and no provider in this process.`,
    'Give the reference a `url: plexus://host:port`, configure a `registry:`, or provide the service in this application.',
  ),
  CHECK_FAILED: defineError(
    'PLEXUS_ERR_APP_CHECK_FAILED',
    (key: string, why: string) => `Reference ${key} has no provider at start: ${why}.`,
    'Start the provider first, check the registry address and the version/group, or set `check: false` on the reference (or `consumer.check: false`) to start anyway.',
  ),
  START: defineError(
    'PLEXUS_ERR_APP_START',
    (step: string, cause: string) => `Start failed in ${step}: ${cause}`,
    'Read the cause; a port in use needs another `protocol.port` (0 picks a free one).',
  ),
} as const;

export const RegistryErrors = {
  REGISTER: defineError(
    'PLEXUS_ERR_REGISTRY_REGISTER',
    (address: string, iface: string, cause: string) => `registering ${iface} with registry ${address} failed: ${cause}; retrying`,
    'Check that the registry is up and reachable; the kernel retries by itself and registers again when it is back.',
  ),
  SUBSCRIBE: defineError(
    'PLEXUS_ERR_REGISTRY_SUBSCRIBE',
    (address: string, iface: string, cause: string) => `subscribing to ${iface} at registry ${address} failed: ${cause}; retrying`,
    'Check that the registry is up and reachable; until it answers, calls use the last provider list (or the snapshot).',
  ),
  SNAPSHOT: defineError(
    'PLEXUS_ERR_REGISTRY_SNAPSHOT',
    (file: string, what: string) => `registry snapshot ${file}: ${what}`,
    'Check the folder is writable by this process and the file is not someone else\'s; set `registry.snapshot` to another path, or false to go without a snapshot.',
  ),
  UNREACHABLE: defineError(
    'PLEXUS_ERR_REGISTRY_UNREACHABLE',
    (address: string, key: string) => `registry ${address} cannot be reached and no snapshot lists providers of ${key}`,
    'Start the registry or fix its address; or set `check: false` on the reference to start anyway and wait for it.',
  ),
} as const;

export const UrlErrors = {
  INVALID: defineError(
    'PLEXUS_ERR_URL_INVALID',
    (text: string) => `not a URL: "${text}"`,
    'Write it as protocol://host:port[/interface][?key=value], e.g. plexus://127.0.0.1:20880; several are separated by commas.',
  ),
} as const;
