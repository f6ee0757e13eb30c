import { defineError } from '@plexus/kernel/spi';

/**
 * A caller sent trace context the provider could not use (malformed, or longer than the limit);
 * it was ignored and the call traced as a new root. Logged as a warning at most once per
 * `warnEveryMs`, with the count since the last one.
 */
export const TracingBadContext = defineError(
  'PLEXUS_ERR_TRACING_BAD_CONTEXT',
  (count: number, key: string, why: string, caller: string) =>
    `ignored ${count} unusable trace context header(s) from callers; last: "${key}" from ${caller}: ${why}. Those calls were traced as new roots`,
  'The caller propagates trace context that is not W3C Trace Context/Baggage, or too much of it: give both sides the same propagator (the OTel SDK default is W3C), and keep baggage under 8 KiB. Raise extensions.filter.tracing.maxValueLength only if a custom propagator needs longer values.',
);
