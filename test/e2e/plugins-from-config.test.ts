import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * `plugins:` from a config file, as a user writes it: a CommonJS file and an ES module file next to
 * plexus.yaml, selected by name. Run in a plain node process (jest's module sandbox cannot
 * `import()` an ES module).
 */
const KERNEL = path.resolve(__dirname, '..', '..', 'kernel');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-plugins-'));
  fs.writeFileSync(
    path.join(dir, 'first-lb.js'),
    `module.exports = { default: { name: 'first-lb', extensions: [{ point: 'loadbalance', name: 'first', create: () => ({ select: (list) => list[0] }) }] } };`,
  );
  fs.writeFileSync(
    path.join(dir, 'upper.mjs'),
    `export default { name: 'upper', extensions: [{ point: 'filter', name: 'upper', create: () => ({
       invoke: (next, inv) => next.invoke(inv).then((r) => ({ value: String(r.value).toUpperCase() })) }) }] };`,
  );
  fs.writeFileSync(
    path.join(dir, 'plexus.yaml'),
    `application: { name: plugins-demo }
plugins: [./first-lb.js, ./upper.mjs]
protocol: { name: injvm }
services:
  - interface: demo.Greeter
    implementation: ./greeter.js
references:
  greeter: { interface: demo.Greeter, loadbalance: first, filter: [upper] }
`,
  );
  fs.writeFileSync(path.join(dir, 'greeter.js'), `module.exports = { hi: (n) => 'hi ' + n };`);
  fs.writeFileSync(
    path.join(dir, 'main.js'),
    `const { Plexus } = require(${JSON.stringify(KERNEL)});
     Plexus.fromConfig(__dirname + '/plexus.yaml').then(async (app) => {
       await app.start();
       console.log(await app.reference('greeter').hi('ada'));
       await app.stop();
     }).catch((e) => { console.error(e.code, e.message); process.exit(1); });`,
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('loads CommonJS and ES module plugins named under plugins: and uses them by name', () => {
  const out = execFileSync(process.execPath, [path.join(dir, 'main.js')], { encoding: 'utf8', timeout: 30_000 });
  expect(out.trim()).toBe('HI ADA');
});

it('names a plugin file that does not exist', () => {
  fs.writeFileSync(path.join(dir, 'bad.yaml'), `plugins: [./missing.js]\nprotocol: { name: injvm }\n`);
  const script = `require(${JSON.stringify(KERNEL)}).Plexus.fromConfig(${JSON.stringify(path.join(dir, 'bad.yaml'))}).catch((e) => { console.log(e.code); })`;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect(out.trim()).toBe('PLEXUS_ERR_EXTENSION_PLUGIN_LOAD');
});
