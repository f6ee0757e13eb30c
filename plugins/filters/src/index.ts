/** @plexus/filters — filled in by the governance work. */
export { CircuitBreakerFilter, NodeCircuit, parseCircuitPolicy, isNodeFailure, isNeutral, CIRCUIT_DEFAULTS, CIRCUIT_OPEN_REASON, CircuitConfigError, type CircuitBreakerPolicy, type CircuitState } from './circuitbreaker-filter';
export { MockFilter, parseMock, checkMockConfig, MockConfigError, MOCK_THROW_REASON, type MockSpec, type MockWhen } from './mock-filter';
export { AccessLogFilter, AccessLogFile, AccessLogFileError, ACCESSLOG_DROPPED, ACCESSLOG_LIMITS, type AccessLogLimits } from './accesslog-filter';
export { HealthFilter, parseHealthPolicy, HealthConfigError, HEALTH_DEFAULTS, HEALTH_SUSPENDED, type HealthPolicy } from './health-filter';
export { RateLimitFilter, type RateLimitOptions } from './ratelimit-filter';
export { parseRateLimit, type RateLimitSpec, type RateLimitScope } from './ratelimit-spec';
export { TokenBucket } from './ratelimit-bucket';
export { RedisWindowLimit, RedisPermitStore, acquireStore, type RedisTarget, type GrantClient } from './ratelimit-redis';
export { RATE_LIMITED_REASON, RateLimitErrors } from './ratelimit-errors';
export { ConcurrencyFilter } from './concurrency-filter';
export { EXECUTES_REASON, ACTIVES_REASON, ConcurrencyErrors } from './concurrency-errors';
export { TokenFilter, TOKEN_KEY } from './token-filter';
export { TOKEN_MISSING_REASON, TOKEN_MISMATCH_REASON, TokenErrors } from './token-errors';
