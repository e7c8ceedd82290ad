import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK = 100;

/** CPU seconds (user + system) a process, or one of its threads, has used so far, from /proc. */
export function cpuSeconds(pid: number, tid?: number): number {
  const f = readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

/** A process's resident memory now, in MiB, from /proc. */
export function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** CPU seconds so far of each thread of a process, keyed "name (tid)". */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(`${name} (${tid})`, cpuSeconds(pid, Number(tid)));
    } catch {
      // the thread ended between listing and reading
    }
  }
  return out;
}

/** Each thread's share of one core between two `threadCpu` samples, busiest first. */
export function threadShares(before: Map<string, number>, after: Map<string, number>, seconds: number): [string, number][] {
  return [...after].map(([k, v]): [string, number] => [k, (v - (before.get(k) ?? 0)) / seconds]).filter(([, s]) => s > 0.01).sort((a, b) => b[1] - a[1]);
}
