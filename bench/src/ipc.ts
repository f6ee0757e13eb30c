/**
 * Messages between the bench runner (parent) and its peer processes (children), over the
 * `child_process.fork` IPC channel. Plain JSON-safe objects only.
 */
import type { PayloadKind } from './payload';
import type { LatencySummary } from './stats';

/** CPU time of one process over the measured window, in microseconds (process.cpuUsage). */
export interface CpuTime {
  user: number;
  system: number;
}

/** What a peer process receives in `process.argv[2]` (JSON). */
export interface PeerArgs {
  /** Server port, for clients. */
  port?: number;
  /** Peer-specific switches, e.g. the raw peer's write mode. */
  options?: Record<string, unknown>;
  /** For clients: the `info` their server reported when ready (e.g. the registry folder it made). */
  server?: Record<string, unknown>;
  /** For clients: the payload every call carries (default `small`, see payload.ts). */
  payload?: PayloadKind;
}

/** Parent → client: run one measurement. */
export interface RunRequest {
  type: 'run';
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

/** Client → parent: the outcome of one measurement. */
export interface RunResult {
  type: 'result';
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  latency: LatencySummary;
  cpu: CpuTime;
  /** Calls still outstanding when the drain gave up (0 normally). */
  stuck: number;
}

/** Any message a parent sends to a child. */
export type ToChild = RunRequest | { type: 'cpu-start' } | { type: 'cpu-stop' } | { type: 'stop' };

/** Any message a child sends to its parent. */
export type ToParent =
  | { type: 'ready'; port?: number; info?: Record<string, unknown> }
  | { type: 'failed'; error: string }
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'cpu'; cpu: CpuTime }
  | RunResult;
