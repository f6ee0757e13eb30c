import { Plexus, RpcCode, RpcError } from '../src';

interface Greeter {
  sayHello(name: string): string;
  whoCalls(): { service: string; method: string; trace?: string; remote?: string };
  fail(kind: string): void;
  slow(ms: number): Promise<number>;
}

class GreeterImpl implements Greeter {
  sayHello(name: string) {
    return `hello ${name}`;
  }
  whoCalls() {
    const ctx = Plexus.context()!;
    return { service: ctx.service, method: ctx.method, trace: ctx.attachments.trace, remote: ctx.remoteAddress };
  }
  fail(kind: string): void {
    if (kind === 'rpc') throw new RpcError('limited', RpcCode.LIMIT_EXCEEDED);
    const e = new RangeError(`bad ${kind}`) as RangeError & { code: string };
    e.code = 'E_BAD';
    throw e;
  }
  async slow(ms: number) {
    await new Promise((r) => setTimeout(r, ms));
    return Plexus.context()!.deadline;
  }
}

describe('an application calling itself through injvm', () => {
  let app: Plexus;
  beforeAll(async () => {
    app = Plexus.create({
      application: { name: 'injvm-test' },
      protocol: { name: 'injvm' },
      references: { greeter: { interface: 'demo.Greeter', version: '1.0.0' } },
    });
    app.provide({ interface: 'demo.Greeter', version: '1.0.0' }, new GreeterImpl());
    await app.start();
  });
  afterAll(() => app.stop());

  it('calls through the typed proxy', async () => {
    const greeter = app.reference<Greeter>('greeter');
    await expect(greeter.sayHello('ada')).resolves.toBe('hello ada');
  });

  it('is not a thenable, so it can be awaited and returned from async functions', async () => {
    const greeter = app.reference<Greeter>('greeter');
    const same = await Promise.resolve(greeter);
    expect(same).toBe(greeter);
  });

  it('gives the provider its context and carries attachments', async () => {
    const greeter = app.reference<Greeter>('greeter');
    const seen = await Plexus.withAttachments({ trace: 't-1' }, () => greeter.whoCalls());
    expect(seen).toEqual({ service: 'demo.Greeter', method: 'whoCalls', trace: 't-1', remote: 'injvm' });
  });

  it('passes business errors through as SERVICE_ERROR with name, message and code', async () => {
    const greeter = app.reference<Greeter>('greeter');
    const err = (await greeter.fail('input').catch((e) => e)) as RpcError;
    expect(RpcError.is(err)).toBe(true);
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.message).toBe('bad input');
    expect(err.remoteName).toBe('RangeError');
    expect(err.data).toEqual({ code: 'E_BAD' });
    const limited = (await greeter.fail('rpc').catch((e) => e)) as RpcError;
    expect(limited.code).toBe(RpcCode.LIMIT_EXCEEDED);
  });

  it('refuses undeclared and inherited members', async () => {
    const g = app.generic('demo.Greeter', { version: '1.0.0' });
    for (const m of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'nope']) {
      const err = (await g.$invoke(m, []).catch((e) => e)) as RpcError;
      expect(err.code).toBe(RpcCode.METHOD_NOT_FOUND);
    }
  });

  it('supports generic calls and $echo', async () => {
    const g = app.generic('demo.Greeter', { version: '1.0.0' });
    await expect(g.$invoke('sayHello', ['bob'])).resolves.toBe('hello bob');
    await expect(g.$echo({ a: 1 })).resolves.toEqual({ a: 1 });
    await expect(app.reference<Greeter>('greeter').$echo('ping')).resolves.toBe('ping');
  });

  it('sets a deadline from the effective timeout', async () => {
    const before = Date.now();
    const deadline = await app.reference<Greeter>('greeter').slow(5);
    expect(deadline).toBeGreaterThanOrEqual(before + 900);
  });

  it('names unknown references with a suggestion', () => {
    expect(() => app.reference('greter')).toThrow(/No reference "greter".*Did you mean "greeter"/);
  });
});

describe('references check their extension names when created', () => {
  it('names a misspelt load balancer or serializer with a suggestion, before any call', () => {
    const app = Plexus.create({
      references: {
        lb: { interface: 'x.Y', url: 'plexus://127.0.0.1:1', loadbalance: 'roundrobn' },
        ser: { interface: 'x.Y', url: 'plexus://127.0.0.1:1', methods: { f: { serializer: 'msgpak' } } },
      },
    });
    expect(() => app.reference('lb')).toThrow(/No loadbalance named "roundrobn".*Did you mean "roundrobin"/);
    expect(() => app.reference('ser')).toThrow(/No serializer named "msgpak". Available: .*msgpack.*Did you mean "msgpack"/);
  });
});

describe('startup hooks', () => {
  it('run after export and before registration, in order; a failing hook fails start() naming it', async () => {
    const order: string[] = [];
    const app = Plexus.create({ protocol: { name: 'injvm' }, references: { g: { interface: 'h.Greeter' } } });
    app.provide({ interface: 'h.Greeter' }, { hi: () => 'hi' });
    app.onStart('preload', async () => {
      order.push(`preload:${await app.reference<{ hi(): string }>('g').hi()}`);
    });
    app.onStart('second', () => order.push('second'));
    await app.start();
    expect(order).toEqual(['preload:hi', 'second']);
    await app.stop();

    const failing = Plexus.create({ protocol: { name: 'injvm' } });
    failing.onStart('warm-cache', () => {
      throw new Error('cache down');
    });
    await expect(failing.start()).rejects.toMatchObject({ code: 'PLEXUS_ERR_APP_START', message: expect.stringContaining('startup hook "warm-cache": cache down') });
  });
});

describe('implementation modules', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  const cases: Array<[string, string]> = [
    ['an object of functions with one method', `module.exports = { hi: (n) => 'hi ' + n };`],
    ['an object of functions with two methods', `module.exports = { hi: (n) => 'hi ' + n, bye: () => 'bye' };`],
    ['a class as module.exports', `module.exports = class { hi(n) { return 'hi ' + n; } };`],
    ['a default export', `exports.default = { hi: (n) => 'hi ' + n };`],
    ['a single named class', `exports.Greeter = class { hi(n) { return 'hi ' + n; } };`],
  ];
  for (const [what, source] of cases) {
    it(`accepts ${what}`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-impl-'));
      fs.writeFileSync(path.join(dir, 'impl.js'), source);
      const app = Plexus.create({
        baseDir: dir,
        protocol: { name: 'injvm' },
        services: [{ interface: 'demo.Greeter', implementation: './impl.js' }],
        references: { g: { interface: 'demo.Greeter' } },
      });
      await app.start();
      await expect(app.reference<{ hi(n: string): string }>('g').hi('ada')).resolves.toBe('hi ada');
      await app.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  it('refuses a module that exports a plain function, with a code', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-impl-'));
    fs.writeFileSync(path.join(dir, 'impl.js'), `module.exports = (n) => 'hi ' + n;`);
    expect(() =>
      Plexus.create({ baseDir: dir, protocol: { name: 'injvm' }, services: [{ interface: 'demo.Greeter', implementation: './impl.js' }] }),
    ).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_APP_IMPLEMENTATION' }));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
