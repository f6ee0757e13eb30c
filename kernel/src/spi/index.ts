/**
 * `@plexus/kernel/spi` — the API for plugin authors: extension point interfaces, their tokens and
 * default names, and the helpers a plugin needs. Applications use `@plexus/kernel`.
 */
export * from './invocation';
export * from './result';
export * from './invoker';
export * from './filter';
export * from './serializer';
export * from './compressor';
export * from './loadbalance';
export * from './router';
export * from './directory';
export * from './cluster';
export * from './protocol';
export * from './transport';
export * from './registry';
export * from '../registry/layout';
export * from './executor';
export * from './qos';
export * from './logger';
export * from './points';
export * from './tokens';
export { URL, serviceKey } from '../url/url';
export { RpcError, RpcCode, isRpcCode, type RpcErrorOptions, type RpcErrorWire } from '../errors/rpc-error';
export { PlexusError, defineError, type ErrorDefinition } from '../errors/plexus-error';
export {
  definePlugin,
  extension,
  type Activation,
  type ExtensionContext,
  type ExtensionDefinition,
  type PluginDefinition,
  type Side,
  type Requirement,
} from '../extension/plugin';
export { invokerWeight } from '../cluster/weight';
export { NodeAvailability, type Suspension } from '../cluster/node-availability';
/** tsyringe's decorators, re-exported so plugins share the kernel's one copy of the container library. */
export { inject, injectable } from 'tsyringe';
export { runInCallContext, currentCallContext, type CallContext } from '../pipeline/call-context';
export { MethodTable, type BoundMethod } from '../pipeline/method-table';
export { serviceError } from '../errors/service-error';
export { loopNow } from '../deadline/clock';
export { ActiveCalls } from '../pipeline/active-calls';
export * from '../stream/index';
