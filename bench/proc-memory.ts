// Server memory as Linux reports it (proc(5)): VmRSS from /proc/PID/status and Pss from
// /proc/PID/smaps_rollup, summed over a process and its descendants (Dovecot runs one process per
// connection; RSS double-counts shared pages, PSS splits them between the sharers).
import { readFileSync } from 'node:fs';
import { descendantPids } from '../test/helpers/dovecot.js';

export interface MemorySample {
  /** Processes measured. */
  processes: number;
  /** Sum of VmRSS, KiB. */
  rssKiB: number;
  /** Sum of Pss, KiB (0 where smaps_rollup is unavailable). */
  pssKiB: number;
  /** For a Node server: V8 heap in use plus external memory after a full GC, KiB. */
  heapKiB?: number;
}

function field(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export function processMemory(pid: number): { rssKiB: number; pssKiB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    let pss = 0;
    try {
      pss = field(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      /* older kernels */
    }
    return { rssKiB: field(status, 'VmRSS'), pssKiB: pss };
  } catch {
    return null;
  }
}

/** Memory of `pid` plus (optionally) all its descendants. */
export function treeMemory(pid: number, withDescendants: boolean): MemorySample {
  const pids = withDescendants ? [pid, ...descendantPids(pid)] : [pid];
  const sample: MemorySample = { processes: 0, rssKiB: 0, pssKiB: 0 };
  for (const p of pids) {
    const m = processMemory(p);
    if (!m) continue;
    sample.processes++;
    sample.rssKiB += m.rssKiB;
    sample.pssKiB += m.pssKiB;
  }
  return sample;
}
