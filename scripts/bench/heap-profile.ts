/**
 * What a process's main thread allocates on V8's heap over a window: V8's sampling heap profiler
 * (`HeapProfiler.startSampling`), driven through the process's inspector (`node --inspect`), with
 * the objects that scavenges and full collections freed since still counted. That is the
 * allocation that drives the young generation's collections, not what stays live. Each sample is
 * charged to the same categories as the CPU profile's (`cpu-profile.ts`).
 */
import { categorise, frameName } from './cpu-profile.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface HeapNode {
  readonly callFrame: CallFrame;
  /** Bytes sampled at this frame itself. */
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

/** `HeapProfiler.SamplingHeapProfile` of the Chrome DevTools protocol (its tree only). */
export interface HeapProfile {
  readonly head: HeapNode;
}

/** Bytes sampled in every frame of `profile`, by category and by function (`name (file:line)`). */
export interface Allocations {
  readonly totalBytes: number;
  readonly byCategory: ReadonlyMap<string, number>;
  readonly byFunction: ReadonlyMap<string, number>;
}

/**
 * Samples the allocations of the process whose inspector listens on 127.0.0.1:`port` while
 * `during` runs: one sample per `intervalBytes` allocated, on average.
 */
export async function sampleAllocations<T>(port: number, during: () => Promise<T>, intervalBytes = 8192): Promise<{ profile: HeapProfile; result: T }> {
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  const pending = new Map<number, (reply: { result?: unknown; error?: { message: string } }) => void>();
  socket.addEventListener('message', (event) => {
    const reply = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (reply.id !== undefined) pending.get(reply.id)?.(reply);
  });
  let lastId = 0;
  const send = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++lastId;
      pending.set(id, (reply) => {
        pending.delete(id);
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve(reply.result);
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await send('HeapProfiler.enable');
    await send('HeapProfiler.startSampling', {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const result = await during();
    const { profile } = (await send('HeapProfiler.stopSampling')) as { profile: HeapProfile };
    return { profile, result };
  } finally {
    socket.close();
  }
}

/** The bytes `profile` sampled, by the category of each sample's stack and by its function. */
export function allocations(profile: HeapProfile): Allocations {
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let totalBytes = 0;
  const walk = (node: HeapNode, stack: { fn: string; url: string; line: number }[]): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const here = functionName === '(root)' ? stack : [...stack, { fn: functionName || '(anonymous)', url, line: lineNumber }];
    if (node.selfSize > 0 && here.length > 0) {
      totalBytes += node.selfSize;
      const category = categorise(here);
      byCategory.set(category, (byCategory.get(category) ?? 0) + node.selfSize);
      const name = frameName(here.at(-1)!);
      byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, []);
  return { totalBytes, byCategory, byFunction };
}
