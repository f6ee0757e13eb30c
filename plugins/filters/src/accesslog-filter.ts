import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CONFIG,
  RpcError,
  defineError,
  definePlugin,
  type ExtensionContext,
  type Filter,
  type Invocation,
  type Invoker,
  type Logger,
  type MethodSettings,
  type Result,
  type Side,
} from '@plexus/kernel/spi';

/** Lines were dropped because the access log file could not keep up (or could not be written). */
export const ACCESSLOG_DROPPED = 'PLEXUS_ERR_ACCESSLOG_DROPPED';

/** The access log file could not be opened or written. */
export const AccessLogFileError = defineError(
  'PLEXUS_ERR_ACCESSLOG_FILE',
  (file: string, cause: string) => `access log ${file} cannot be written: ${cause}; its lines are dropped`,
  'Check that the folder exists and this process may write there, or set accesslog: true to log through the logger.',
);

/** Tuning of the file sink; the defaults suit every known use, tests shrink them. */
export interface AccessLogLimits {
  /**
   * Bytes of lines waiting for the disk (queued in the stream plus not yet handed to it) past
   * which new lines are dropped and counted. Default 4 MiB: about 30 000 lines, several seconds of
   * a busy service while the disk stalls, and a fixed ceiling on the memory a slow disk can take.
   */
  maxBufferBytes: number;
  /** Lines are handed to the stream in batches at most this many ms apart. Default 50: one write per batch, not per call. */
  flushMs: number;
  /** Drops are reported at most once per this many ms, with their count. Default 10000. */
  warnEveryMs: number;
}

export const ACCESSLOG_LIMITS: AccessLogLimits = Object.freeze({ maxBufferBytes: 4 * 1024 * 1024, flushMs: 50, warnEveryMs: 10_000 });

/** A batch is handed over at once when it reaches this size, without waiting for `flushMs`. */
const BATCH_BYTES = 64 * 1024;

/** Where lines go. */
interface Sink {
  write(line: string): void;
}

/**
 * One access log file, shared by every filter of the process that names it: lines are batched and
 * appended through one `WriteStream`; what the disk has not taken is bounded by `maxBufferBytes`,
 * past which lines are dropped, counted and reported (never a growing queue, never a blocked call).
 */
export class AccessLogFile implements Sink {
  /** Lines dropped since the start. */
  dropped = 0;
  private stream: fs.WriteStream | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private broken = false;
  private unreported = 0;
  private lastWarn = 0;
  users = 0;

  constructor(
    readonly file: string,
    private readonly logger: Logger,
    private readonly limits: AccessLogLimits = ACCESSLOG_LIMITS,
  ) {}

  write(line: string): void {
    const bytes = line.length + 1;
    const queued = this.stream?.writableLength ?? 0;
    if (this.broken || queued + this.pendingBytes + bytes > this.limits.maxBufferBytes) {
      this.drop(1);
      return;
    }
    this.pending.push(line);
    this.pendingBytes += bytes;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.limits.flushMs);
      this.timer.unref();
    }
  }

  /** Hands the batch to the stream (opening it on first use). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const lines = this.pending.length;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.pendingBytes = 0;
    if (this.broken) {
      this.drop(lines);
      return;
    }
    this.open().write(text);
  }

  /** Flushes and closes the stream; resolves when the lines are on disk (or the file failed). */
  close(): Promise<void> {
    this.flush();
    this.reportDrops(true);
    const stream = this.stream;
    this.stream = undefined;
    if (stream === undefined || stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => stream.end(() => resolve()));
  }

  private open(): fs.WriteStream {
    if (this.stream === undefined) {
      const stream = fs.createWriteStream(this.file, { flags: 'a' });
      stream.on('error', (err) => {
        if (this.broken) return;
        this.broken = true;
        this.drop(0);
        this.logger.error(AccessLogFileError(this.file, err.message).message, { code: AccessLogFileError.code });
      });
      this.stream = stream;
    }
    return this.stream;
  }

  private drop(n: number): void {
    this.dropped += n;
    this.unreported += n;
    this.reportDrops(false);
  }

  private reportDrops(force: boolean): void {
    if (this.unreported === 0) return;
    const now = Date.now();
    if (!force && now - this.lastWarn < this.limits.warnEveryMs) return;
    this.lastWarn = now;
    this.logger.warn(`access log ${this.file}: ${this.unreported} lines dropped (${this.dropped} in all) because the file could not keep up`, {
      code: ACCESSLOG_DROPPED,
      dropped: this.dropped,
    });
    this.unreported = 0;
  }
}

/** Files shared by the filters of this process, by absolute path. */
const files = new Map<string, AccessLogFile>();

function acquireFile(file: string, logger: Logger, limits: AccessLogLimits): AccessLogFile {
  let f = files.get(file);
  if (f === undefined) files.set(file, (f = new AccessLogFile(file, logger, limits)));
  f.users++;
  return f;
}

async function releaseFile(f: AccessLogFile): Promise<void> {
  if (--f.users > 0) {
    f.flush();
    return;
  }
  files.delete(f.file);
  await f.close();
}

/** Sends lines to the logger at info level. */
class LoggerSink implements Sink {
  constructor(private readonly logger: Logger) {}
  write(line: string): void {
    this.logger.info(line, { accesslog: true });
  }
}

/**
 * One line per call: `<ISO time> <side> <service key> <method> <peer> <duration>ms <code>`, where
 * the peer is `provider=<host:port>` on the consumer and `caller=<address>` on the provider, and the
 * code is `OK` or the RpcCode. On the consumer it runs at the invoker stage, outermost: one line per
 * attempt, with the provider tried. Active for a method when `accesslog` is `true` (through the
 * logger) or a file path (relative to the config file's folder); elsewhere it passes the call on
 * after one WeakMap lookup. Scope: one instance per reference or service; called concurrently.
 */
export class AccessLogFilter implements Filter {
  private readonly byMethod = new WeakMap<MethodSettings, Sink | null>();
  private readonly held: AccessLogFile[] = [];
  private readonly logSink: LoggerSink;

  constructor(
    private readonly logger: Logger,
    private readonly baseDir: string = process.cwd(),
    private readonly limits: AccessLogLimits = ACCESSLOG_LIMITS,
  ) {
    this.logSink = new LoggerSink(logger);
  }

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    let sink = this.byMethod.get(invocation.settings);
    if (sink === undefined) sink = this.sinkFor(invocation);
    if (sink === null) return next.invoke(invocation);
    const s = sink;
    const started = performance.now();
    // The kernel does not tell a filter its side: provider-side invocations carry the caller's address.
    const side: Side = invocation.remoteAddress === undefined ? 'consumer' : 'provider';
    const peer = side === 'consumer' ? `provider=${next.url.address}` : `caller=${invocation.remoteAddress}`;
    return next.invoke(invocation).then(
      (result) => {
        s.write(line(side, invocation, peer, started, 'OK'));
        return result;
      },
      (err: unknown) => {
        s.write(line(side, invocation, peer, started, RpcError.is(err) ? err.code : 'UNKNOWN'));
        throw err;
      },
    );
  }

  /** Flushes and lets go of the files this filter wrote to (the scope calls it when the reference or service closes). */
  async close(): Promise<void> {
    for (const f of this.held.splice(0)) await releaseFile(f);
  }

  private sinkFor(invocation: Invocation): Sink | null {
    const params = invocation.settings.params;
    // DESIGN's way to switch a filter on, `filter: [accesslog]`, logs through the logger when no accesslog key says where.
    const raw = params.accesslog ?? (listed(params.filter, 'accesslog') ? 'true' : undefined);
    let sink: Sink | null;
    if (raw === undefined || raw === '' || raw === 'false') sink = null;
    else if (raw === 'true') sink = this.logSink;
    else {
      const file = path.resolve(this.baseDir, raw);
      let f = this.held.find((h) => h.file === file);
      if (f === undefined) this.held.push((f = acquireFile(file, this.logger, this.limits)));
      sink = f;
    }
    this.byMethod.set(invocation.settings, sink);
    return sink;
  }
}

function listed(filters: string | undefined, name: string): boolean {
  return filters !== undefined && filters.split(',').some((f) => f.trim() === name);
}

function line(side: Side, invocation: Invocation, peer: string, started: number, code: string): string {
  const ms = (performance.now() - started).toFixed(1);
  return `${new Date().toISOString()} ${side} ${invocation.serviceKey} ${invocation.method} ${peer} ${ms}ms ${code}`;
}

function baseDirOf(ctx: ExtensionContext): string {
  try {
    return (ctx.inject<{ baseDir?: string }>(CONFIG).baseDir as string | undefined) ?? process.cwd();
  } catch {
    return process.cwd();
  }
}

export default definePlugin({
  name: '@plexus/filters',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'accesslog',
      keys: ['accesslog'],
      // Outermost on each side; on the consumer at the invoker stage, where the provider is known.
      activate: { side: ['consumer', 'provider'], order: -2000, stage: 'invoker', keys: ['accesslog'] },
      create: (ctx: ExtensionContext) => new AccessLogFilter(ctx.logger, baseDirOf(ctx)),
    },
  ],
});
