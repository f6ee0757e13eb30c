/**
 * `@plexus/kernel/testing` — contract suites every implementation of an extension point runs,
 * and an in-memory transport for wiring real plugins together in one process.
 * Contract suites use jest's globals (`describe`, `it`, `expect`).
 */
