/**
 * CPU time of a process's threads, one by id or summed by thread name, from /proc (Linux). Node 24 and the
 * libraries name their threads: `MainThread` (the event loop), `V8Worker` (V8's helpers: concurrent
 * marking, sweeping, parallel scavenges, compilation), `libuv-worker` (libuv's pool, where sharp's
 * calls run), `libvips worker`, `WorkerThread` (worker_threads: the inference worker), and
 * `jemalloc_bg_thd` when jemalloc is preloaded. `make bench-profile` uses it to say which threads
 * the service's excess over the bare pipeline runs on.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock ticks per second (`getconf CLK_TCK`), the unit of /proc's CPU times. */
export const CLOCK_TICKS_PER_S = 100;

/** One thread's name and user + system CPU time in ms, from its /proc stat line. */
function readThread(pid: number, tid: number | string): { name: string; cpuMs: number } {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  // The name is between the first '(' and the last ')': it may hold spaces ("libvips worker").
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S,
  };
}

/** CPU time of one thread (`tid`) of `pid`, in ms; a process's main thread has the pid as its id. */
export function threadCpuMs(pid: number, tid = pid): number {
  return readThread(pid, tid).cpuMs;
}

/** User + system CPU time in ms of each thread name of `pid` now living; empty where /proc is not there. */
export function threadCpuByName(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const { name, cpuMs } = readThread(pid, tid);
      byName.set(name, (byName.get(name) ?? 0) + cpuMs);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}

/** What each thread name spent between two readings of {@link threadCpuByName}, divided by `per` (requests, images). */
export function threadCpuPer(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, per: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, ms] of after) out[name] = Math.round(((ms - (before.get(name) ?? 0)) / per) * 100) / 100;
  return out;
}
