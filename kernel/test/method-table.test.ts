import { MethodTable } from '../src/pipeline/method-table';
import { PlexusError } from '../src/errors/plexus-error';

class Base {
  inherited() {
    return 'base';
  }
}
class Greeter extends Base {
  prefix = 'hello';
  sayHello(name: string) {
    return `${this.prefix} ${name}`;
  }
  _private() {
    return 'no';
  }
}

describe('MethodTable', () => {
  it('exposes declared and class-inherited methods, bound to the instance, sorted', () => {
    const t = new MethodTable('demo.Greeter', new Greeter());
    expect(t.names).toEqual(['inherited', 'sayHello']);
    expect(t.get('sayHello')!('ada')).toBe('hello ada');
    expect(t.at(1)).toBe(t.get('sayHello'));
    expect(t.nameAt(0)).toBe('inherited');
  });

  it('never exposes constructor, __proto__, Object members or private names', () => {
    const t = new MethodTable('demo.Greeter', new Greeter());
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '_private', '__defineGetter__']) {
      expect(t.get(name)).toBeUndefined();
    }
  });

  it('takes own function members of plain objects', () => {
    const t = new MethodTable('x.Y', { a: () => 1, b: 2, c() {} } as object);
    expect(t.names).toEqual(['a', 'c']);
  });

  it('refuses an implementation without methods with a coded error', () => {
    try {
      new MethodTable('x.Empty', {});
      throw new Error('expected a throw');
    } catch (err) {
      expect(PlexusError.is(err, 'PLEXUS_ERR_APP_NO_METHODS')).toBe(true);
    }
  });

  it('narrows to `only` and reports names that are not implemented', () => {
    expect(new MethodTable('x', new Greeter(), ['sayHello']).names).toEqual(['sayHello']);
    expect(() => new MethodTable('x', new Greeter(), ['nope'])).toThrow(/nope/);
  });
});
