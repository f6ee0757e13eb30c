import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExtensionLoader } from '../src/extension/extension-loader';
import { ExtensionScope } from '../src/extension/extension-scope';
import { ConsoleLogger } from '../src/extension/logger';
import { definePlugin, extension, type ExtensionContext } from '../src/extension/plugin';
import { PlexusError } from '../src/errors/plexus-error';
import { container } from 'tsyringe';

const logger = new ConsoleLogger('test', 'silent');
let dir: string;

function writePackage(name: string, manifest: unknown, files: Record<string, string>, version = '1.0.0') {
  const root = path.join(dir, 'node_modules', name);
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name, version, plexus: manifest }));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
}

const LB_MODULE = (name: string) => `
  module.exports = { default: { extensions: [{ point: 'loadbalance', name: '${name}', create: (ctx) => ({ kind: '${name}', options: ctx.options, select: (l) => l[0] }) }] } };
`;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-loader-'));
  writePackage('@plexus/loadbalance', { kernel: '^0.1.0', extensions: [
    { point: 'loadbalance', name: 'random', module: './random.js' },
    { point: 'loadbalance', name: 'roundrobin', module: './rr.js' },
  ] }, { 'random.js': LB_MODULE('random'), 'rr.js': LB_MODULE('roundrobin') });
  writePackage('@plexus/serializer-fancy', { extensions: [{ point: 'serializer', name: 'fancy', id: 77, module: './f.js' }] }, {
    'f.js': `module.exports.default = { extensions: [{ point: 'serializer', name: 'fancy', id: 77, create: () => ({ id: 77, name: 'fancy' }) }] };`,
  });
  writePackage('@plexus/compressor-broken', { extensions: [{ point: 'compressor', name: 'broken', module: './missing.js' }] }, {});
  writePackage('@plexus/router-old', { kernel: '^9.0.0', extensions: [{ point: 'router', name: 'old', module: './x.js' }] }, {});
  fs.writeFileSync(path.join(dir, 'my-lb.js'), LB_MODULE('mine'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ExtensionLoader', () => {
  it('finds conventional family packages lazily and imports only what is selected', () => {
    const loader = new ExtensionLoader(dir, logger);
    const def = loader.get('loadbalance', 'roundrobin');
    expect(def.name).toBe('roundrobin');
    expect(loader.entryOf('loadbalance', 'random')!.definition).toBeUndefined();
    expect(loader.names('loadbalance')).toEqual(['random', 'roundrobin']);
  });

  it('finds @plexus/<point>-<name> packages and looks up wire ids', () => {
    const loader = new ExtensionLoader(dir, logger);
    expect(loader.get('serializer', 'fancy').id).toBe(77);
    expect(loader.getById('serializer', 77)!.name).toBe('fancy');
    expect(loader.getById('serializer', 99)).toBeUndefined();
  });

  it('loads local plugin files named in config and lets them shadow conventional ones', () => {
    const loader = new ExtensionLoader(dir, logger);
    loader.addSpec('./my-lb.js');
    expect(loader.get('loadbalance', 'mine').name).toBe('mine');
  });

  it('misses helpfully: what exists, the nearest name, and plugins that failed', () => {
    const loader = new ExtensionLoader(dir, logger);
    expect(() => loader.get('compressor', 'broken')).toThrow(PlexusError);
    try {
      loader.get('loadbalance', 'roundrobn');
      throw new Error('expected a miss');
    } catch (err) {
      const e = err as PlexusError;
      expect(e.code).toBe('PLEXUS_ERR_EXTENSION_NOT_FOUND');
      expect(e.message).toContain('No loadbalance named "roundrobn". Available: random, roundrobin.');
      expect(e.message).toContain('Did you mean "roundrobin"?');
      expect(e.message).toContain('@plexus/compressor-broken');
      expect(e.hint).toMatch(/npm install/);
    }
  });

  it('refuses plugins built for another kernel', () => {
    const loader = new ExtensionLoader(dir, logger);
    expect(() => loader.addSpec('@plexus/router-old')).toThrow(/needs @plexus\/kernel \^9\.0\.0/);
  });

  it('refuses extensions of unknown points', () => {
    const loader = new ExtensionLoader(dir, logger);
    expect(() => loader.addPlugin(definePlugin({ name: 'x', extensions: [{ point: 'teleporter', name: 'a', create: () => ({}) }] }))).toThrow(
      /unknown point "teleporter"/,
    );
  });

  it('accepts @extension classes and applies wrappers', () => {
    @extension('loadbalance', 'classy')
    class ClassyLoadBalance {
      constructor(readonly ctx: ExtensionContext) {}
      select(l: unknown[]) {
        return l[0];
      }
    }
    const loader = new ExtensionLoader(dir, logger);
    loader.addPlugin([ClassyLoadBalance as never], 'classes');
    loader.addPlugin(
      definePlugin({
        name: 'wrap',
        extensions: [{ point: 'loadbalance', name: 'counting', wrapper: true, create: (ctx) => ({ wrapped: ctx.inner, select: (l: unknown[]) => l[0] }) }],
      }),
    );
    const scope = new ExtensionScope(loader, container.createChildContainer(), logger, 'app', () => undefined);
    const lb = scope.get<{ wrapped: unknown }>('loadbalance', 'classy');
    expect(lb.wrapped).toBeInstanceOf(ClassyLoadBalance);
  });
});

describe('ExtensionScope', () => {
  it('caches per scope, validates options, and registers instances in the container', () => {
    const loader = new ExtensionLoader(dir, logger);
    loader.addPlugin(
      definePlugin({
        name: 'opts',
        extensions: [
          {
            point: 'loadbalance',
            name: 'strict',
            optionsSchema: { type: 'object', properties: { choices: { type: 'integer', minimum: 1, default: 2 } }, additionalProperties: false },
            create: (ctx) => ({ choices: ctx.options.choices, select: (l: unknown[]) => l[0] }),
          },
        ],
      }),
    );
    const root = new ExtensionScope(loader, container.createChildContainer(), logger, 'app', (p, n) => (n === 'strict' ? { choices: '3' } : undefined));
    const a = root.child();
    const b = root.child();
    const lbA = a.get<{ choices: number }>('loadbalance', 'strict');
    expect(lbA.choices).toBe(3);
    expect(a.get('loadbalance', 'strict')).toBe(lbA);
    expect(b.get('loadbalance', 'strict')).not.toBe(lbA);
    expect(a.container.resolve(Symbol.for('plexus.loadbalance'))).toBe(lbA);
    const bad = new ExtensionScope(loader, container.createChildContainer(), logger, 'app', () => ({ choices: 0 }));
    expect(() => bad.get('loadbalance', 'strict')).toThrow(/Invalid options for loadbalance "strict"/);
  });
});
