import { RpcCode, RpcError } from '../errors/rpc-error';
import type { Invocation, MethodSettings } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Protocol } from '../spi/protocol';
import type { Result } from '../spi/result';
import type { URL } from '../url/url';
import { FakeServiceInvoker } from './fake-service-invoker';
import { fakeInvocation } from './fakes';
import { rejectionOf, waitFor } from './wait-for';

/** A protocol to test and where it serves: `url(0)` is exported, `url(boundPort)` referred to. */
export interface ProtocolUnderTest {
  protocol: Protocol;
  /**
   * The URL of the contract's service at `port`; its path (and `version`/`group` params, if any)
   * name the service. Port 0 asks for any free port, as an export at port 0 would.
   */
  url(port: number): URL;
}

/** Switches for protocols that do not cross a wire, and settings the calls need. */
export interface ProtocolContractOptions {
  /**
   * False for in-process protocols (injvm): an export keeps port 0, calls already running cannot
   * be cancelled by `destroy()`, and a drained provider may refuse with `SERVICE_NOT_FOUND` rather
   * than `SHUTTING_DOWN`. Default true.
   */
  wire?: boolean;
  /**
   * Per-method settings of the consumer's calls, over `methodSettings()`: e.g. `{ serializer: 'json' }`
   * when the protocol is built with a JSON serializer only. `timeout` defaults to `waitLimit`, so a
   * lost answer fails the call instead of hanging the test.
   */
  settings?: Partial<MethodSettings>;
  /** Upper bound for one wait, in ms (default 10000); a guard against hangs, not a timing assertion. */
  waitLimit?: number;
  /** How many calls the concurrency check keeps in flight at once (default 200). */
  concurrency?: number;
}

/** Holds the contract's `slow` method until the test lets it go. */
class Gate {
  entered = 0;
  private release!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.release = resolve));
  open(): void {
    this.release();
  }
}

const CODES_AFTER_UNEXPORT: readonly RpcCode[] = [RpcCode.SERVICE_NOT_FOUND, RpcCode.NETWORK, RpcCode.CANCELLED];

/**
 * The behaviour every {@link Protocol} must show, as a jest suite: one protocol instance exports a
 * hand-made {@link FakeServiceInvoker} and refers to it (over its own wire, if it has one); values
 * and attachments round-trip, a business error arrives as `SERVICE_ERROR` with its name and
 * message, an unknown method as `METHOD_NOT_FOUND`, an unexported service is no longer called,
 * 200 concurrent calls each get their own answer, `drain()` lets running calls finish and refuses
 * new ones, `destroy()` fails running and new calls. Call it at the top level of a test file:
 * `protocolContract('plexus over tcp', () => ({ protocol: new PlexusProtocol(ctx), url: (port) =>
 * URL.parse(\`plexus://127.0.0.1:${port}/demo.Greeter\`) }))`. `create` runs once per test and the
 * protocol is destroyed after it.
 */
export function protocolContract(
  name: string,
  create: () => ProtocolUnderTest | Promise<ProtocolUnderTest>,
  options: ProtocolContractOptions = {},
): void {
  const wire = options.wire ?? true;
  const waitLimit = options.waitLimit ?? 10_000;
  const concurrency = options.concurrency ?? 200;

  describe(`protocol contract: ${name}`, () => {
    let gate: Gate;
    let live: Array<{ protocol: Protocol; destroyed: boolean }> = [];

    beforeEach(() => {
      gate = new Gate();
    });

    afterEach(async () => {
      gate.open();
      const worlds = live;
      live = [];
      for (const w of worlds) if (!w.destroyed) await w.protocol.destroy();
    });

    function implementation() {
      return {
        hello: (name: string) => `hello ${name}`,
        echo: (value: unknown) => value,
        fail: (message: string) => {
          throw new TypeError(message);
        },
        slow: async (value: unknown) => {
          gate.entered++;
          await gate.opened;
          return value;
        },
        delayed: async (value: number, ms: number) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          return value * 2;
        },
        context: () => null,
      };
    }

    /** A protocol with the contract's service exported at `url(0)` and an invoker referring to it. */
    async function world() {
      const made = await create();
      const entry = { protocol: made.protocol, destroyed: false };
      live.push(entry);
      const service = FakeServiceInvoker.at(made.url(0), implementation());
      const exporter = await made.protocol.export(service, made.url(0));
      const invoker = made.protocol.refer(made.url(exporter.url.port));
      return {
        ...made,
        service,
        exporter,
        invoker,
        destroy: async () => {
          entry.destroyed = true;
          await made.protocol.destroy();
        },
      };
    }

    /** A consumer invocation of `method(...args)` on the service at `url`. */
    function call(url: URL, method: string, args: unknown[], attachments: Record<string, string> = {}): Invocation {
      return fakeInvocation({
        service: url.path,
        version: url.params.version,
        group: url.params.group,
        method,
        args,
        attachments,
        settings: { timeout: waitLimit, ...options.settings },
      });
    }

    async function failure(invoker: Invoker, inv: Invocation): Promise<RpcError> {
      const err = await rejectionOf(invoker.invoke(inv));
      if (err === undefined) throw new Error(`protocol contract: ${inv.method} was expected to fail but succeeded`);
      expect(RpcError.is(err)).toBe(true);
      return err as RpcError;
    }

    it('exports, refers and round-trips values', async () => {
      const w = await world();
      const url = w.url(0);
      expect(w.exporter.url.path).toBe(url.path);
      if (wire) expect(w.exporter.url.port).toBeGreaterThan(0);
      await expect(w.invoker.invoke(call(url, 'hello', ['ada']))).resolves.toMatchObject({ value: 'hello ada' });
      const values: unknown[] = [
        { n: 1, list: [1, 'two', null], nested: { ok: true, deeper: { x: -1.5 } }, text: 'ünïcødé ✓' },
        [],
        '',
        0,
        2 ** 40,
        false,
        'x'.repeat(100_000),
      ];
      for (const value of values) {
        const result = await w.invoker.invoke(call(url, 'echo', [value]));
        expect(result.value).toEqual(value);
      }
    });

    it('carries attachments to the provider and tells it the remote address', async () => {
      const w = await world();
      await w.invoker.invoke(call(w.url(0), 'context', [], { trace: 't-1', 'ключ': 'значение' }));
      const seen = w.service.seen[w.service.seen.length - 1];
      expect(seen.method).toBe('context');
      expect(seen.attachments).toMatchObject({ trace: 't-1', 'ключ': 'значение' });
      expect(typeof seen.remoteAddress).toBe('string');
      expect(seen.remoteAddress).not.toBe('');
    });

    it('delivers a business error as SERVICE_ERROR with its name and message, not retryable', async () => {
      const w = await world();
      const url = w.url(0);
      const err = await failure(w.invoker, call(url, 'fail', ['name must not be empty']));
      expect(err.code).toBe(RpcCode.SERVICE_ERROR);
      expect(err.message).toBe('name must not be empty');
      expect(err.remoteName).toBe('TypeError');
      expect(err.retryable).toBe(false);
      await expect(w.invoker.invoke(call(url, 'hello', ['again']))).resolves.toMatchObject({ value: 'hello again' });
    });

    it('answers an unknown method with METHOD_NOT_FOUND and keeps serving', async () => {
      const w = await world();
      const url = w.url(0);
      for (const method of ['noSuchMethod', 'constructor', '__proto__', 'toString']) {
        const err = await failure(w.invoker, call(url, method, []));
        expect(err.code).toBe(RpcCode.METHOD_NOT_FOUND);
      }
      await expect(w.invoker.invoke(call(url, 'hello', ['still here']))).resolves.toMatchObject({ value: 'hello still here' });
    });

    it('unexport: calls to that service fail, another service at the same address still answers', async () => {
      const w = await world();
      const url = w.url(0);
      const otherUrl = w.url(w.exporter.url.port).withPath(`${url.path}Other`);
      const other = FakeServiceInvoker.at(otherUrl, { ping: () => 'pong' });
      const otherExporter = await w.protocol.export(other, otherUrl);
      const otherInvoker = w.protocol.refer(w.url(otherExporter.url.port).withPath(otherUrl.path));
      await expect(w.invoker.invoke(call(url, 'hello', ['before']))).resolves.toMatchObject({ value: 'hello before' });
      await expect(otherInvoker.invoke(call(otherUrl, 'ping', []))).resolves.toMatchObject({ value: 'pong' });

      await otherExporter.unexport();
      const err = await failure(otherInvoker, call(otherUrl, 'ping', []));
      expect(CODES_AFTER_UNEXPORT).toContain(err.code);
      expect(other.seen).toHaveLength(1);
      await expect(w.invoker.invoke(call(url, 'hello', ['after']))).resolves.toMatchObject({ value: 'hello after' });

      await w.exporter.unexport();
      const last = await failure(w.invoker, call(url, 'hello', ['gone']));
      expect(CODES_AFTER_UNEXPORT).toContain(last.code);
      expect(w.service.seen.map((i) => i.args[0])).toEqual(['before', 'after']);
      if (w.invoker.isAvailable) await waitFor(() => w.invoker.isAvailable?.() === false, waitLimit, 'the invoker to report unavailable');
    });

    it(`matches ${concurrency} concurrent calls, each with its own answer`, async () => {
      const w = await world();
      const url = w.url(0);
      const calls: Array<Promise<Result>> = [];
      // Answers come back in another order than the calls went out.
      for (let i = 0; i < concurrency; i++) calls.push(w.invoker.invoke(call(url, 'delayed', [i, (i * 7) % 13])));
      const results = await Promise.all(calls);
      results.forEach((r, i) => expect(r.value).toBe(i * 2));
    });

    it('drain: running calls finish, new calls are refused, then it resolves', async () => {
      const w = await world();
      if (!w.protocol.drain) return expect(w.protocol.drain).toBeUndefined();
      const url = w.url(0);
      const running = w.invoker.invoke(call(url, 'slow', ['kept']));
      await waitFor(() => gate.entered === 1, waitLimit, 'the slow call to start');
      let drained = false;
      const draining = w.protocol.drain(waitLimit).then(() => (drained = true));
      const refused = await failure(w.invoker, call(url, 'hello', ['new']));
      if (wire) {
        expect(refused.code).toBe(RpcCode.SHUTTING_DOWN);
        expect(refused.retryable).toBe(true);
      } else {
        expect([RpcCode.SHUTTING_DOWN, RpcCode.SERVICE_NOT_FOUND]).toContain(refused.code);
      }
      if (wire) expect(drained).toBe(false);
      gate.open();
      await expect(running).resolves.toMatchObject({ value: 'kept' });
      await draining;
      expect(drained).toBe(true);
    });

    it('destroy(): running calls fail with CANCELLED, new calls are refused', async () => {
      const w = await world();
      const url = w.url(0);
      const running = w.invoker.invoke(call(url, 'slow', ['lost']));
      const outcome = rejectionOf(running);
      await waitFor(() => gate.entered === 1, waitLimit, 'the slow call to start');
      await w.destroy();
      if (wire) {
        const err = await outcome;
        expect(RpcError.is(err)).toBe(true);
        expect((err as RpcError).code).toBe(RpcCode.CANCELLED);
      }
      const refused = await failure(w.invoker, call(url, 'hello', ['late']));
      expect(CODES_AFTER_UNEXPORT).toContain(refused.code);
      gate.open();
      await outcome;
    });
  });
}
