/**
 * What a result file records about the machine, so numbers from different hosts are not compared blindly.
 */
import os from 'node:os';

/** Machine and runtime facts stored with every result. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  cpuMHz: number;
  node: string;
  v8: string;
  platform: string;
  arch: string;
  totalMemMiB: number;
  loadAvg: number[];
}

/** Reads the machine facts now. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuMHz: cpus[0]?.speed ?? 0,
    node: process.version,
    v8: process.versions.v8,
    platform: os.platform(),
    arch: os.arch(),
    totalMemMiB: Math.round(os.totalmem() / 1024 / 1024),
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
