/** @plexus/filters — filled in by the governance work. */
export { CircuitBreakerFilter, NodeCircuit, parseCircuitPolicy, isNodeFailure, CIRCUIT_DEFAULTS, CIRCUIT_OPEN_REASON, CircuitConfigError, type CircuitBreakerPolicy, type CircuitState } from './circuitbreaker-filter';
