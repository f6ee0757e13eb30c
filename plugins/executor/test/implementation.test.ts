import { implementationOf, methodTable } from '../src/implementation';

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

describe('methodTable', () => {
  class Base {
    inherited() {}
  }
  class Service extends Base {
    field = 1;
    own() {}
    get computed(): number {
      throw new Error('getters must not run');
    }
    override toString() {
      return 'declared';
    }
  }

  it('lists own and inherited methods, stopping at Object.prototype', () => {
    const names = [...methodTable(new Service()).keys()].sort();
    expect(names).toEqual(['inherited', 'own', 'toString']);
  });

  it('never lists constructor, __proto__ or Object.prototype members', () => {
    const table = methodTable({ a() {} });
    for (const name of ['constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'toString']) expect(table.has(name)).toBe(false);
  });

  it('does not expose a method shadowed by a data property', () => {
    const impl = Object.create({ hidden() {} }) as Record<string, unknown>;
    impl.hidden = 42;
    expect(methodTable(impl).has('hidden')).toBe(false);
  });

  it('works for objects without a prototype', () => {
    const impl = Object.assign(Object.create(null) as object, { a() {} });
    expect([...methodTable(impl).keys()]).toEqual(['a']);
  });
});
