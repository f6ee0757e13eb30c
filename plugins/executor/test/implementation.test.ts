import { implementationOf } from '../src/implementation';

describe('implementationOf', () => {
  it('uses module.exports when it is the service object', () => {
    const service = { a() {}, b() {} };
    expect(implementationOf(service, 'x')).toBe(service);
  });

  it('uses an object with a single method as the service itself', () => {
    const service = { greet() {} };
    expect(implementationOf(service, 'x')).toBe(service);
  });

  it('uses the default export', () => {
    const service = { a() {} };
    expect(implementationOf({ default: service }, 'x')).toBe(service);
  });

  it('uses a single named export, instantiating a class', () => {
    class Greeter {
      hello() {
        return 'hi';
      }
    }
    expect(implementationOf({ Greeter }, 'x')).toBeInstanceOf(Greeter);
    const service = { a() {} };
    expect(implementationOf({ service }, 'x')).toBe(service);
  });

  it('instantiates a class given as module.exports', () => {
    class Greeter {}
    expect(implementationOf(Greeter, 'x')).toBeInstanceOf(Greeter);
  });

  it('refuses a plain function and nothing at all', () => {
    expect(() => implementationOf(() => 1, 'x')).toThrow(/plain function/);
    expect(() => implementationOf(undefined, 'x')).toThrow(/export the service object or class/);
  });
});
