import { URL } from '../src/url/url';

describe('URL', () => {
  it('parses protocol, address, path and params', () => {
    const u = URL.parse('plexus://127.0.0.1:20880/demo.Greeter?version=1.0.0&timeout=500&sayHello.timeout=200');
    expect(u.protocol).toBe('plexus');
    expect(u.host).toBe('127.0.0.1');
    expect(u.port).toBe(20880);
    expect(u.path).toBe('demo.Greeter');
    expect(u.address).toBe('127.0.0.1:20880');
    expect(u.getNumber('timeout', 0)).toBe(500);
    expect(u.getMethodNumber('sayHello', 'timeout', 0)).toBe(200);
    expect(u.getMethodNumber('other', 'timeout', 0)).toBe(500);
    expect(u.serviceKey).toBe('demo.Greeter:1.0.0');
  });

  it('round-trips through its canonical string with sorted, encoded params', () => {
    const u = new URL('plexus', '::1', 80, 'a.B', { z: '1', a: 'x y&z' });
    expect(u.toString()).toBe('plexus://[::1]:80/a.B?a=x%20y%26z&z=1');
    const back = URL.parse(u.toString());
    expect(back.host).toBe('::1');
    expect(back.params).toEqual({ a: 'x y&z', z: '1' });
  });

  it('parses local:///dir and unix paths', () => {
    const u = URL.parse('local:///tmp/plexus-reg');
    expect(u.protocol).toBe('local');
    expect(u.host).toBe('');
    expect(u.path).toBe('tmp/plexus-reg');
  });

  it('is immutable: with* returns a new URL', () => {
    const u = URL.parse('plexus://h:1/s?a=1');
    const v = u.withParams({ a: undefined, b: 2 });
    expect(u.params).toEqual({ a: '1' });
    expect(v.params).toEqual({ b: '2' });
    expect(() => ((u.params as Record<string, string>).a = '2')).toThrow();
  });

  it('rejects text that is not a URL', () => {
    expect(() => URL.parse('not a url')).toThrow(/not a URL/);
    expect(() => URL.parse('127.0.0.1:20880')).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_URL_INVALID' }));
  });

  it('builds service keys with group and version', () => {
    expect(URL.parse('plexus://h:1/s?group=g&version=2').serviceKey).toBe('g/s:2');
  });
});
