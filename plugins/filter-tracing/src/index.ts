/** @plexus/filter-tracing — OpenTelemetry spans for every call, W3C trace context in attachments. */
export {
  TracingFilter,
  TRACING_OPTIONS_SCHEMA,
  TRACER_NAME,
  TRACER_VERSION,
  ATTR_CODE,
  ATTR_REASON,
  ATTR_VERSION,
  ATTR_GROUP,
  type TracingFilterOptions,
} from './tracing-filter';
export {
  W3CPropagator,
  parseTraceparent,
  parseBaggage,
  serializeBaggage,
  TRACEPARENT,
  TRACESTATE,
  BAGGAGE,
  TRACESTATE_MAX_LENGTH,
  BAGGAGE_MAX_LENGTH,
  BAGGAGE_MAX_MEMBERS,
  BAGGAGE_MAX_MEMBER_LENGTH,
  type InvalidHeader,
} from './w3c-propagator';
export { TracingBadContext } from './errors';
