import {
  baggageEntryMetadataFromString,
  createTraceState,
  isSpanContextValid,
  propagation,
  trace,
  TraceFlags,
  type Baggage,
  type BaggageEntry,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';

/** The attachment keys of W3C Trace Context and W3C Baggage. */
export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';
export const BAGGAGE = 'baggage';

/**
 * W3C's own limits. A tracestate longer than 512 characters may be dropped whole (the spec asks
 * vendors to pass at least 512 on); baggage is at most 8192 bytes and 180 members, each at most
 * 4096 bytes. They bound what a peer's header can cost to parse.
 */
export const TRACESTATE_MAX_LENGTH = 512;
export const BAGGAGE_MAX_LENGTH = 8192;
export const BAGGAGE_MAX_MEMBERS = 180;
export const BAGGAGE_MAX_MEMBER_LENGTH = 4096;

/** Length of a version-00 traceparent: `vv-<32 hex>-<16 hex>-ff`. */
const TRACEPARENT_LENGTH = 55;
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Told when a peer's header is unusable (and therefore ignored). */
export type InvalidHeader = (key: string, why: string) => void;

/**
 * W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage (`baggage`) written with the
 * OpenTelemetry API alone: what the tracing filter uses while the application has not registered
 * a global propagator (the OTel SDKs register exactly these two by default, so both sides agree
 * either way). Extraction is strict and bounded: a header that does not parse is ignored and
 * reported through `onInvalid`, never thrown. Stateless; safe to share.
 */
export class W3CPropagator implements TextMapPropagator {
  constructor(private readonly onInvalid: InvalidHeader = () => {}) {}

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(context);
    if (sc !== undefined && isSpanContextValid(sc)) {
      const sampled = (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
      setter.set(carrier, TRACEPARENT, `00-${sc.traceId}-${sc.spanId}-${sampled ? '01' : '00'}`);
      const state = sc.traceState?.serialize();
      if (state) setter.set(carrier, TRACESTATE, state);
    }
    const baggage = propagation.getBaggage(context);
    if (baggage !== undefined) {
      const header = serializeBaggage(baggage);
      if (header.length > 0) setter.set(carrier, BAGGAGE, header);
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    let out = context;
    const parent = first(getter.get(carrier, TRACEPARENT));
    if (parent !== undefined) {
      const sc = parseTraceparent(parent);
      if (sc === undefined) this.onInvalid(TRACEPARENT, 'not a W3C traceparent');
      else {
        const state = first(getter.get(carrier, TRACESTATE));
        if (state !== undefined) {
          if (state.length > TRACESTATE_MAX_LENGTH) this.onInvalid(TRACESTATE, `longer than ${TRACESTATE_MAX_LENGTH} characters`);
          else sc.traceState = createTraceState(state);
        }
        out = trace.setSpanContext(out, sc);
      }
    }
    const bag = first(getter.get(carrier, BAGGAGE));
    if (bag !== undefined) {
      const baggage = parseBaggage(bag, this.onInvalid);
      if (baggage !== undefined) out = propagation.setBaggage(out, baggage);
    }
    return out;
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE, BAGGAGE];
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A remote span context from a traceparent, or undefined when it is not one. Versions above 00
 * are read by their first four fields, as the spec asks; `ff` is never valid, nor are all-zero ids.
 */
export function parseTraceparent(raw: string): { traceId: string; spanId: string; traceFlags: number; isRemote: true; traceState?: ReturnType<typeof createTraceState> } | undefined {
  const value = raw.trim();
  if (value.length < TRACEPARENT_LENGTH) return undefined;
  const version = value.slice(0, 2);
  if (version === '00' ? value.length !== TRACEPARENT_LENGTH : value.length > TRACEPARENT_LENGTH && value[TRACEPARENT_LENGTH] !== '-') return undefined;
  const m = TRACEPARENT_PATTERN.exec(value.slice(0, TRACEPARENT_LENGTH));
  if (m === null || m[1] === 'ff') return undefined;
  const sc = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & TraceFlags.SAMPLED, isRemote: true as const };
  return isSpanContextValid(sc) ? sc : undefined;
}

/** The baggage header for `baggage`, members past W3C's limits left out. */
export function serializeBaggage(baggage: Baggage): string {
  let out = '';
  let members = 0;
  for (const [key, entry] of baggage.getAllEntries()) {
    let member = `${encodeURIComponent(key)}=${encodeURIComponent(entry.value)}`;
    const meta = entry.metadata?.toString();
    if (meta) member += `;${meta}`;
    if (member.length > BAGGAGE_MAX_MEMBER_LENGTH) continue;
    if (out.length + member.length + 1 > BAGGAGE_MAX_LENGTH || members >= BAGGAGE_MAX_MEMBERS) break;
    out = out.length === 0 ? member : `${out},${member}`;
    members++;
  }
  return out;
}

/**
 * Baggage from a peer's header: at most {@link BAGGAGE_MAX_MEMBERS} members of a header of at
 * most {@link BAGGAGE_MAX_LENGTH} characters; a member that does not parse is skipped (reported).
 */
export function parseBaggage(raw: string, onInvalid: InvalidHeader = () => {}): Baggage | undefined {
  if (raw.length > BAGGAGE_MAX_LENGTH) {
    onInvalid(BAGGAGE, `longer than ${BAGGAGE_MAX_LENGTH} characters`);
    return undefined;
  }
  const entries: Record<string, BaggageEntry> = {};
  let count = 0;
  let skipped = 0;
  let start = 0;
  while (start <= raw.length && count < BAGGAGE_MAX_MEMBERS) {
    let end = raw.indexOf(',', start);
    if (end < 0) end = raw.length;
    const member = raw.slice(start, end);
    start = end + 1;
    if (member.trim().length === 0) continue;
    const parsed = parseMember(member);
    if (parsed === undefined) skipped++;
    else {
      entries[parsed[0]] = parsed[1];
      count++;
    }
  }
  if (start <= raw.length) skipped++;
  if (skipped > 0) onInvalid(BAGGAGE, `${skipped} member(s) malformed or over the limits were skipped`);
  return count === 0 ? undefined : propagation.createBaggage(entries);
}

function parseMember(member: string): [string, BaggageEntry] | undefined {
  if (member.length > BAGGAGE_MAX_MEMBER_LENGTH) return undefined;
  const semi = member.indexOf(';');
  const pair = semi < 0 ? member : member.slice(0, semi);
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  let key: string;
  let value: string;
  try {
    key = decodeURIComponent(pair.slice(0, eq).trim());
    value = decodeURIComponent(pair.slice(eq + 1).trim());
  } catch {
    return undefined;
  }
  if (key.length === 0) return undefined;
  const entry: BaggageEntry = { value };
  if (semi >= 0) {
    const meta = member.slice(semi + 1).trim();
    if (meta.length > 0) entry.metadata = baggageEntryMetadataFromString(meta);
  }
  return [key, entry];
}
