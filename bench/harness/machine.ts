/** The machine a run happened on, written next to its figures. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';

export interface Machine {
  date: string;
  cpuModel: string;
  cores: number;
  ramGiB: number;
  node: string;
  commit: string;
  fdLimit: string;
  loadBefore: number[];
}

function shell(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
}

export function describeMachine(): Machine {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpuModel: cpus()[0]?.model.trim() ?? '?',
    cores: cpus().length,
    ramGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    commit: shell('git', ['rev-parse', '--short', 'HEAD']),
    fdLimit: shell('sh', ['-c', 'ulimit -n']),
    loadBefore: loadavg().map((v) => Math.round(v * 10) / 10),
  };
}
