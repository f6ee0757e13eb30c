/**
 * The child side of a peer process: the IPC conversation with the bench runner, so each peer
 * file only says how to start its server or how to make one call.
 */
import type { CpuTime, PeerArgs, RunRequest, ToChild, ToParent } from './ipc';
import { runLoad, type CallerFactory } from './load-loop';

/** A started peer server. */
export interface ServerHandle {
  port: number;
  close(): Promise<void> | void;
  info?: Record<string, unknown>;
}

/** A connected peer client. */
export interface ClientHandle {
  /** Makes one caller for the shared load loop. */
  createCaller: CallerFactory;
  close(): Promise<void> | void;
  info?: Record<string, unknown>;
}

/** Reads the JSON arguments the runner passed to this process. */
export function peerArgs(): PeerArgs {
  const raw = process.argv[2];
  return raw ? (JSON.parse(raw) as PeerArgs) : {};
}

function send(message: ToParent): void {
  process.send?.(message);
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

function exitWith(code: number): void {
  // Give the IPC message queued just before a moment to leave.
  setTimeout(() => process.exit(code), 20).unref();
}

/** Ends this process with the runner: a peer must never outlive the bench. */
function guardOrphan(close: () => Promise<void> | void): void {
  process.on('disconnect', () => {
    Promise.resolve()
      .then(close)
      .catch(() => undefined)
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

async function stopWith(close: () => Promise<void> | void): Promise<void> {
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  try {
    await close();
  } catch {
    // Closing is best effort; the process exits either way.
  }
  exitWith(0);
}

/**
 * Runs a peer server process: starts it, reports its port, and answers CPU-window requests so
 * the runner can charge the server's CPU time to the same window as the client's.
 */
export function hostServer(start: (args: PeerArgs) => Promise<ServerHandle>): void {
  let close: () => Promise<void> | void = () => undefined;
  guardOrphan(() => close());
  let cpuStart = process.cpuUsage();
  start(peerArgs()).then(
    (server) => {
      close = () => server.close();
      process.on('message', (message: ToChild) => {
        if (message.type === 'cpu-start') {
          cpuStart = process.cpuUsage();
        } else if (message.type === 'cpu-stop') {
          const used = process.cpuUsage(cpuStart);
          const cpu: CpuTime = { user: used.user, system: used.system };
          send({ type: 'cpu', cpu });
        } else if (message.type === 'stop') {
          void stopWith(close);
        }
      });
      send({ type: 'ready', port: server.port, info: server.info });
    },
    (err: unknown) => {
      send({ type: 'failed', error: errorText(err) });
      exitWith(1);
    },
  );
}

/**
 * Runs a peer client process: connects, then runs each measurement the runner asks for with
 * the shared load loop, telling the runner when the measured window opens and closes.
 */
export function hostClient(connect: (args: PeerArgs) => Promise<ClientHandle>): void {
  let close: () => Promise<void> | void = () => undefined;
  guardOrphan(() => close());
  connect(peerArgs()).then(
    (client) => {
      close = () => client.close();
      let running = false;
      process.on('message', (message: ToChild) => {
        if (message.type === 'run' && !running) {
          running = true;
          void measure(client, message).finally(() => {
            running = false;
          });
        } else if (message.type === 'stop') {
          void stopWith(close);
        }
      });
      send({ type: 'ready', info: client.info });
    },
    (err: unknown) => {
      send({ type: 'failed', error: errorText(err) });
      exitWith(1);
    },
  );
}

async function measure(client: ClientHandle, run: RunRequest): Promise<void> {
  const outcome = await runLoad(client.createCaller, {
    concurrency: run.concurrency,
    warmupMs: run.warmupMs,
    durationMs: run.durationMs,
    onWindowStart: () => send({ type: 'window-start' }),
    onWindowEnd: () => send({ type: 'window-end' }),
  });
  send({ type: 'result', ...outcome });
}

/** Wraps a promise-returning call into a caller for the load loop (one promise per call, nothing else). */
export function promiseCaller(call: () => Promise<unknown>): CallerFactory {
  return (done) => {
    const ok = () => done();
    const fail = (err: unknown) => done(err ?? new Error('call rejected without a reason'));
    return () => {
      call().then(ok, fail);
    };
  };
}

/** Checks one call end to end before the runner starts measuring. */
export async function verify(call: () => Promise<unknown>, expect: unknown): Promise<void> {
  const got = await call();
  if (JSON.stringify(got) !== JSON.stringify(expect)) {
    throw new Error(`echo mismatch: sent ${JSON.stringify(expect)}, got ${JSON.stringify(got)}`);
  }
}
