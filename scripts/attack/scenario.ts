/**
 * What every attack scenario of `make attack` shares: its shape, latency summaries, and the
 * legitimate client that keeps uploading cat.png during an attack.
 */
import { readFile } from 'node:fs/promises';
import { catImagePath } from '../../test/fixtures/course-images.js';
import { upload, type Answered } from '../../test/support/process.js';

/** One attack: `run` prints progress through `say` and resolves with its figures. */
export interface Scenario {
  readonly name: string;
  readonly summary: string;
  run(say: (line: string) => void): Promise<Record<string, unknown>>;
}

/** Latencies of a set of answers, in milliseconds, and their statuses. */
export interface Summary {
  readonly count: number;
  readonly statuses: Record<string, number>;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

/** Summarises `answers` (none: zeros). */
export function summarise(answers: readonly Pick<Answered, 'status' | 'ms'>[]): Summary {
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  const at = (q: number): number => Math.round(ms[Math.min(ms.length - 1, Math.max(0, Math.ceil(q * ms.length) - 1))] ?? 0);
  const statuses: Record<string, number> = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  return { count: answers.length, statuses, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: at(1) };
}

/** One line for a summary. */
export function describe(summary: Summary): string {
  return `${summary.count} answers ${JSON.stringify(summary.statuses)}, p50 ${summary.p50Ms} ms, p95 ${summary.p95Ms} ms, max ${summary.maxMs} ms`;
}

/** The course's cat.png. */
export function catImage(): Promise<Buffer> {
  return readFile(catImagePath);
}

/**
 * A legitimate client: uploads cat.png every `everyMs` (each after the previous answer) until
 * `until` settles, at least `minimum` times.
 */
export async function catsDuring(url: string, until: Promise<unknown>, everyMs = 400, minimum = 1): Promise<Answered[]> {
  const cat = await catImage();
  let done = false;
  void until.finally(() => (done = true));
  const answers: Answered[] = [];
  while (!done || answers.length < minimum) {
    const next = new Promise((resolve) => setTimeout(resolve, everyMs));
    answers.push(await upload(url, cat, 'cat.png'));
    await next;
  }
  return answers;
}

/**
 * `clients` attackers, each sending `bytes` again as soon as it is answered, for `durationMs`
 * (0: one upload each); resolves with every answer.
 */
export async function attackers(url: string, bytes: Uint8Array, clients: number, durationMs: number): Promise<Answered[]> {
  const until = performance.now() + durationMs;
  const answers: Answered[] = [];
  await Promise.all(Array.from({ length: clients }, async () => {
    do answers.push(await upload(url, bytes, 'attack'));
    while (performance.now() < until);
  }));
  return answers;
}
