/**
 * `@plexus/kernel/testing` — contract suites every implementation of an extension point runs,
 * and an in-memory transport for wiring real plugins together in one process.
 * Contract suites use jest's globals (`describe`, `it`, `expect`).
 */
export * from './fakes';
export * from './loadbalance-contract';
export * from './cluster-contract';
export * from './executor-contract';
export * from './serializer-contract';
export * from './compressor-contract';
export * from './memory-transport';
export * from './transport-contract';
export * from './wait-for';
export * from './memory-registry';
export * from './registry-contract';
export * from './registry-manager-contract';
export * from './router-contract';
export * from './filter-contract';
export * from './fake-service-invoker';
export * from './protocol-contract';
export * from './streaming-contract';
