import { URL, type ServiceInvoker } from '@plexus/kernel/spi';
import { DEFAULT_MAX_ATTACHMENTS, encodeRoute, HeaderReader } from '../src/frame-codec';
import { normalizeOptions } from '../src/options';
import { acceptsCompressor, configuredCompressors, hasMethod } from '../src/request-guard';
import { CodecTable } from '../src/codec-table';
import { Tag } from '../src/wire';

/** A request header: route, then `n` attachments `k<i>=v`, then `extra` unknown entries. */
function header(n: number, extra = 0): Buffer {
  const parts: Buffer[] = [encodeRoute('demo.Svc:1.0.0', 'call')];
  for (let i = 0; i < n; i++) {
    const key = Buffer.from(`k${i}`);
    parts.push(Buffer.from([Tag.ATTACHMENT, 1 + key.length + 1, key.length]), key, Buffer.from('v'));
  }
  for (let i = 0; i < extra; i++) parts.push(Buffer.from([0x70, 0]));
  return Buffer.concat(parts);
}

describe('HeaderReader bounds', () => {
  it(`reads up to ${DEFAULT_MAX_ATTACHMENTS} attachments by default and stops at the next one`, () => {
    const h = new HeaderReader();
    const ok = header(DEFAULT_MAX_ATTACHMENTS);
    expect(h.read(ok, 0, ok.length)).toBe(true);
    expect(Object.keys(h.attachments!).length).toBe(DEFAULT_MAX_ATTACHMENTS);
    expect(h.overflow).toBeUndefined();
    const over = header(DEFAULT_MAX_ATTACHMENTS + 1);
    expect(h.read(over, 0, over.length)).toBe(false);
    expect(h.overflow).toBe('attachments');
    // the next frame starts clean
    expect(h.read(ok, 0, ok.length)).toBe(true);
    expect(h.overflow).toBeUndefined();
  });

  it('honours a lower maxAttachments', () => {
    const h = new HeaderReader();
    h.maxAttachments = 2;
    const three = header(3);
    expect(h.read(three, 0, three.length)).toBe(false);
    expect(h.overflow).toBe('attachments');
  });

  it('stops an 8 MiB header of 1.4 M attachments after the limit, in well under a millisecond per frame', () => {
    const huge = header(1_400_000);
    expect(huge.length).toBeGreaterThan(8_000_000);
    const h = new HeaderReader();
    const started = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) expect(h.read(huge, 0, huge.length)).toBe(false);
    // the unbounded reader built 1.4 M strings per frame: ~0.75 s each
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
  });

  it('bounds unknown entries too (64 besides attachments)', () => {
    const h = new HeaderReader();
    const fine = header(1, 60);
    expect(h.read(fine, 0, fine.length)).toBe(true);
    const many = header(1, 100_000);
    expect(h.read(many, 0, many.length)).toBe(false);
    expect(h.overflow).toBe('entries');
  });

  it('keeps attachment keys as plain data in a null-prototype object', () => {
    const parts: Buffer[] = [];
    for (const key of ['hasOwnProperty', 'toString', '__proto__', 'constructor']) {
      const k = Buffer.from(key);
      parts.push(Buffer.from([Tag.ATTACHMENT, 1 + k.length + 1, k.length]), k, Buffer.from('x'));
    }
    const buf = Buffer.concat(parts);
    const h = new HeaderReader();
    expect(h.read(buf, 0, buf.length)).toBe(true);
    const att = h.attachments!;
    expect(Object.getPrototypeOf(att)).toBeNull();
    expect(Object.keys(att).sort()).toEqual(['constructor', 'hasOwnProperty', 'toString']);
    expect(att.hasOwnProperty).toBe('x');
    expect({ ...att }).toEqual({ hasOwnProperty: 'x', toString: 'x', constructor: 'x' });
  });
});

describe('request guard', () => {
  const compressors = [
    { id: 1, name: 'gzip', compress: (b: Uint8Array) => b, decompress: (b: Uint8Array) => b },
    { id: 2, name: 'lz4', compress: (b: Uint8Array) => b, decompress: (b: Uint8Array) => b },
  ];
  const codecs = () =>
    new CodecTable({
      resolve: <T>(point: string, name?: string) => {
        const c = compressors.find((x) => x.name === name);
        if (point !== 'compressor' || !c) throw new Error(`No ${point} named "${name}"`);
        return c as T;
      },
      resolveById: <T>(point: string, id: number) => compressors.find((x) => x.id === id) as T | undefined,
    });

  function service(params: Record<string, string>, extra: object = {}): ServiceInvoker {
    return Object.assign(
      {
        serviceKey: 'demo.Svc:1.0.0',
        methods: ['a', 'b'],
        url: new URL('plexus', '127.0.0.1', 1, 'demo.Svc', params),
        createInvocation: () => {
          throw new Error('not used');
        },
        invoke: () => Promise.reject(new Error('not used')),
      },
      extra,
    ) as unknown as ServiceInvoker;
  }

  it('knows declared methods by name and index, and the built-in $echo', () => {
    const svc = service({});
    expect([hasMethod(svc, 'a'), hasMethod(svc, 'b'), hasMethod(svc, '$echo')]).toEqual([true, true, true]);
    expect([hasMethod(svc, 'emit'), hasMethod(svc, 'constructor'), hasMethod(svc, '__proto__'), hasMethod(svc, 'toString')]).toEqual([false, false, false, false]);
    expect([hasMethod(svc, 0), hasMethod(svc, 1), hasMethod(svc, 2), hasMethod(svc, -1)]).toEqual([true, true, false, false]);
  });

  it("uses the kernel's hasMethod when the service has one", () => {
    const svc = service({}, { hasMethod: (m: string | number) => m === 'only' });
    expect([hasMethod(svc, 'only'), hasMethod(svc, 'a')]).toEqual([true, false]);
  });

  it('accepts identity always, and otherwise only the compressors the service is configured with', () => {
    const options = normalizeOptions({});
    const plain = service({});
    expect(acceptsCompressor(plain, 0, codecs(), options)).toBe(true);
    expect(acceptsCompressor(plain, 1, codecs(), options)).toBe(false);
    const lz4 = service({ compressor: 'lz4' });
    expect([acceptsCompressor(lz4, 2, codecs(), options), acceptsCompressor(lz4, 1, codecs(), options)]).toEqual([true, false]);
    const perMethod = service({ 'b.compressor': 'gzip' });
    expect(acceptsCompressor(perMethod, 1, codecs(), options)).toBe(true);
    expect(configuredCompressors(perMethod, options)).toEqual(['identity', 'gzip']);
    // the protocol's own compressor counts for every service on it
    expect(acceptsCompressor(service({}), 1, codecs(), normalizeOptions({ compressor: 'gzip' }))).toBe(true);
  });

  it("uses the kernel's accepts when the service has one", () => {
    const svc = service({ compressor: 'lz4' }, { accepts: (id: number) => id === 1 });
    const options = normalizeOptions({});
    expect([acceptsCompressor(svc, 1, codecs(), options), acceptsCompressor(svc, 2, codecs(), options)]).toEqual([true, false]);
  });
});
