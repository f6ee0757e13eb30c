/**
 * CPU pinning of peer processes. On a virtual machine a wake-up on another, idle CPU costs tens
 * of microseconds, so a ping-pong at concurrency 1 runs about 6× faster when client and server
 * share a CPU than when the scheduler puts them apart — and it decides differently from run to
 * run. Pinning makes the layout a choice instead of luck. Linux only (`taskset`); elsewhere
 * processes run unpinned.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

/**
 * `split` (default): client and server on a CPU each at every concurrency, as two hosts would be.
 * `auto`: one shared CPU at concurrency 1 (only one side works at a time, so sharing
 * costs nothing but the cross-CPU wake-up), one CPU each above.
 * `same`: always one shared CPU. `none`: leave it to the scheduler.
 */
export type PinMode = 'auto' | 'split' | 'same' | 'none';

/** Pin modes accepted on the command line. */
export const PIN_MODES: readonly PinMode[] = ['auto', 'split', 'same', 'none'];

/** Where a pair's processes ran during one measurement. */
export type Layout = 'same' | 'split' | 'none';

let available: boolean | undefined;

/** Whether processes can be pinned here (Linux with `taskset`, at least 2 CPUs). */
export function canPin(): boolean {
  if (available === undefined) {
    available =
      process.platform === 'linux' && os.cpus().length >= 2 && spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  }
  return available;
}

/** The layout `mode` asks for at `concurrency`, or `none` when pinning is not possible. */
export function layoutFor(mode: PinMode, concurrency: number): Layout {
  if (mode === 'none' || !canPin()) return 'none';
  if (mode === 'auto') return concurrency === 1 ? 'same' : 'split';
  return mode;
}

/** CPUs for the client and the server in `layout`: client on CPU 0, server on 1 or 0. */
export function cpusFor(layout: Exclude<Layout, 'none'>): { client: number; server: number } {
  return layout === 'same' ? { client: 0, server: 0 } : { client: 0, server: 1 };
}

/** Pins every thread of `pid` to `cpu`; false if it did not work (the run goes on unpinned). */
export function pin(pid: number, cpu: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0;
}
