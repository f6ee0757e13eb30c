import { EventEmitter } from 'node:events';
import { AsyncResource } from 'node:async_hooks';
import * as net from 'node:net';
import { Readable, Transform } from 'node:stream';
import { Plexus } from '../src';
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

  it('narrows to `only` (expose:) and reports names that are not implemented with a coded error', () => {
    expect(new MethodTable('x', new Greeter(), ['sayHello']).names).toEqual(['sayHello']);
    expect(new MethodTable('x', new Greeter(), ['sayHello']).get('inherited')).toBeUndefined();
    const err = (() => {
      try {
        new MethodTable('x', new Greeter(), ['sayHello', 'nope']);
      } catch (e) {
        return e;
      }
      throw new Error('expected a throw');
    })();
    expect(PlexusError.is(err, 'PLEXUS_ERR_APP_IMPLEMENTATION')).toBe(true);
    expect((err as Error).message).toMatch(/expose: names "nope"/);
    expect((err as Error).message).toMatch(/callable: inherited, sayHello/);
  });
});

describe('MethodTable: runtime base classes are not part of the service', () => {
  class Notifier extends EventEmitter {
    notify(what: string) {
      return `notified ${what}`;
    }
  }
  const EMITTER_MEMBERS = ['emit', 'on', 'once', 'off', 'addListener', 'removeListener', 'removeAllListeners', 'setMaxListeners', 'getMaxListeners', 'listeners', 'rawListeners', 'listenerCount', 'eventNames', 'prependListener'];

  it('a class extending EventEmitter keeps its own methods and none of EventEmitter\'s', () => {
    const t = new MethodTable('demo.Notifier', new Notifier());
    expect(t.names).toEqual(['notify']);
    expect(t.get('notify')!('x')).toBe('notified x');
    for (const name of EMITTER_MEMBERS) expect(t.get(name)).toBeUndefined();
  });

  it('expose: cannot name an inherited runtime method either', () => {
    for (const name of ['emit', 'setMaxListeners', 'removeAllListeners']) {
      expect(() => new MethodTable('demo.Notifier', new Notifier(), ['notify', name])).toThrow(new RegExp(`"${name}"`));
    }
  });

  it('stops at the first runtime class: a subclass of a subclass keeps both own classes', () => {
    class Base extends EventEmitter {
      base() {
        return 1;
      }
    }
    class Leaf extends Base {
      leaf() {
        return 2;
      }
    }
    expect(new MethodTable('x', new Leaf()).names).toEqual(['base', 'leaf']);
  });

  it.each([
    ['Readable', () => new (class extends Readable { fetch() { return 1; } })(), ['read', 'push', 'pipe', 'destroy', 'on', 'emit']],
    ['Transform', () => new (class extends Transform { fetch() { return 1; } })(), ['write', 'end', 'cork', 'pipe', 'emit']],
    ['AsyncResource', () => new (class extends AsyncResource { fetch() { return 1; } constructor() { super('svc'); } })(), ['runInAsyncScope', 'emitDestroy', 'bind', 'asyncId']],
    ['net.Socket', () => new (class extends net.Socket { fetch() { return 1; } })(), ['write', 'connect', 'setTimeout', 'destroy', 'emit', 'ref']],
    ['Map', () => new (class extends Map { fetch() { return 1; } })(), ['set', 'clear', 'delete', 'get']],
    ['EventTarget', () => new (class extends EventTarget { fetch() { return 1; } })(), ['dispatchEvent', 'addEventListener']],
  ])('a class extending %s exposes only its own methods', (_name, make, inherited) => {
    const target = make() as object;
    const t = new MethodTable('x', target);
    expect(t.names).toEqual(['fetch']);
    for (const name of inherited) expect(t.get(name)).toBeUndefined();
    if (target instanceof net.Socket) target.destroy();
  });

  it('does not stop at a user class that merely shares a runtime class\'s name', () => {
    const Shadow = { EventEmitter: class EventEmitter { mine() { return 1; } } }.EventEmitter;
    class Svc extends Shadow {
      own() {
        return 2;
      }
    }
    expect(new MethodTable('x', new Svc()).names).toEqual(['mine', 'own']);
  });

  it('an EventEmitter instance with methods assigned keeps only those', () => {
    const emitter = Object.assign(new EventEmitter(), { ping: () => 'pong' });
    expect(new MethodTable('x', emitter).names).toEqual(['ping']);
  });
});

describe('expose: through the application (in-process calls)', () => {
  class Notifier extends EventEmitter {
    notify(what: string) {
      return `notified ${what}`;
    }
    count() {
      return this.listenerCount('x');
    }
  }

  it('is the allow-list: exposed methods answer, others are METHOD_NOT_FOUND', async () => {
    const app = Plexus.create({ application: { name: 'expose-test' }, protocols: [{ name: 'injvm' }] } as never);
    app.provide({ interface: 'demo.Notifier', version: '1.0.0', expose: ['notify'] }, new Notifier());
    await app.start();
    try {
      const ref = app.refer<{ notify(w: string): Promise<string>; count(): Promise<number>; emit(e: string): Promise<boolean> }>({ interface: 'demo.Notifier', version: '1.0.0' });
      await expect(ref.notify('ada')).resolves.toBe('notified ada');
      await expect(ref.count()).rejects.toMatchObject({ code: 'METHOD_NOT_FOUND' });
      await expect(ref.emit('x')).rejects.toMatchObject({ code: 'METHOD_NOT_FOUND' });
    } finally {
      await app.stop();
    }
  });

  it('naming a method the implementation cannot expose fails start() with a coded error', async () => {
    const app = Plexus.create({ application: { name: 'expose-test' }, protocols: [{ name: 'injvm' }] } as never);
    app.provide({ interface: 'demo.Notifier', version: '1.0.0', expose: ['notify', 'emit'] }, new Notifier());
    const err = await app.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await app.stop().catch(() => undefined);
    expect(PlexusError.is(err, 'PLEXUS_ERR_APP_IMPLEMENTATION')).toBe(true);
    expect((err as Error).message).toMatch(/expose: names "emit"/);
  });
});
