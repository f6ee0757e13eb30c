import { baggageEntryMetadataFromString, createTraceState, defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { BAGGAGE_MAX_LENGTH, BAGGAGE_MAX_MEMBERS, parseBaggage, parseTraceparent, serializeBaggage, TRACESTATE_MAX_LENGTH, W3CPropagator } from '../src/w3c-propagator';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('W3CPropagator (the fallback when the application registered no propagator)', () => {
  it('writes and reads back traceparent, tracestate and baggage', () => {
    let ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED, traceState: createTraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7') });
    ctx = propagation.setBaggage(ctx, propagation.createBaggage({ 'user id': { value: 'a,b=c', metadata: baggageEntryMetadataFromString('prop1') } }));
    const carrier: Record<string, string> = {};
    const p = new W3CPropagator();
    p.inject(ctx, carrier, defaultTextMapSetter);
    expect(carrier).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', baggage: 'user%20id=a%2Cb%3Dc;prop1' });
    const back = p.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    const sc = trace.getSpanContext(back)!;
    expect(sc).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(sc.traceState!.get('rojo')).toBe('00f067aa0ba902b7');
    const entry = propagation.getBaggage(back)!.getEntry('user id')!;
    expect(entry.value).toBe('a,b=c');
    expect(entry.metadata!.toString()).toBe('prop1');
  });

  it('an unsampled context crosses as flags 00; an invalid one is not written', () => {
    const carrier: Record<string, string> = {};
    new W3CPropagator().inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.NONE }), carrier, defaultTextMapSetter);
    expect(carrier.traceparent).toBe(`00-${TRACE}-${SPAN}-00`);
    const none: Record<string, string> = {};
    new W3CPropagator().inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: SPAN, traceFlags: 1 }), none, defaultTextMapSetter);
    expect(none).toEqual({});
  });

  it.each([
    ['', false],
    [`00-${TRACE}-${SPAN}-01`, true],
    [` 00-${TRACE}-${SPAN}-01 `, true],
    [`00-${TRACE}-${SPAN}-1`, false],
    [`00-${TRACE}-${'0'.repeat(16)}-01`, false],
    [`00-${TRACE}-${SPAN}-01-`, false],
    [`cc-${TRACE}-${SPAN}-01-future`, true],
    [`cc-${TRACE}-${SPAN}-01x`, false],
    [`ff-${TRACE}-${SPAN}-01`, false],
    [`00_${TRACE}_${SPAN}_01`, false],
  ])('parseTraceparent(%j) is valid: %s', (raw, valid) => {
    expect(parseTraceparent(raw) !== undefined).toBe(valid);
  });

  it('a tracestate over 512 characters is dropped (the parent still counts) and reported', () => {
    const why: string[] = [];
    const p = new W3CPropagator((key, w) => why.push(`${key}: ${w}`));
    const ctx = p.extract(ROOT_CONTEXT, { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: `a=${'b'.repeat(TRACESTATE_MAX_LENGTH)}` }, defaultTextMapGetter);
    expect(trace.getSpanContext(ctx)?.traceId).toBe(TRACE);
    expect(trace.getSpanContext(ctx)?.traceState).toBeUndefined();
    expect(why).toEqual([`tracestate: longer than ${TRACESTATE_MAX_LENGTH} characters`]);
  });

  it('baggage written stays within W3C limits: oversized members skipped, at most 180 members and 8192 characters', () => {
    const many: Record<string, { value: string }> = { huge: { value: 'x'.repeat(5000) } };
    for (let i = 0; i < 300; i++) many[`k${i}`] = { value: 'v'.repeat(40) };
    const header = serializeBaggage(propagation.createBaggage(many));
    expect(header.length).toBeLessThanOrEqual(BAGGAGE_MAX_LENGTH);
    expect(header).not.toContain('huge');
    expect(header.split(',').length).toBeLessThanOrEqual(BAGGAGE_MAX_MEMBERS);
    expect(parseBaggage(header)!.getAllEntries().length).toBe(header.split(',').length);
  });

  it('baggage read keeps the good members and reports the rest', () => {
    const why: string[] = [];
    const bag = parseBaggage(' a = 1 ;p, =x,b,c=%ZZ,d=%F0%9F%98%80,,', (k, w) => why.push(`${k}: ${w}`))!;
    expect(Object.fromEntries(bag.getAllEntries().map(([k, e]) => [k, e.value]))).toEqual({ a: '1', d: '😀' });
    expect(bag.getEntry('a')!.metadata!.toString()).toBe('p');
    expect(why).toEqual(['baggage: 3 member(s) malformed or over the limits were skipped']);
    expect(parseBaggage('x'.repeat(BAGGAGE_MAX_LENGTH + 1))).toBeUndefined();
  });
});
