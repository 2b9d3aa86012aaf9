/**
 * `make bench-profile`: where the event loop's CPU goes per request, the service against the bare
 * pipeline (issue #23, part 2). Runs the compiled service under `node --cpu-prof`
 * (AUTH_DISABLED=true, the bench's environment), warms it up, sends the development photos at
 * c=16 for a measured window, stops it; then the bare pipeline likewise. Cuts each main thread's
 * profile to its measured window, charges every sample to a category (`cpu-profile.ts`) and
 * divides by the requests answered: milliseconds of main-thread CPU per request. Cross-checks the
 * profile's total against the main thread's CPU time from /proc.
 *
 * Then, on a service of its own under the inspector, samples what the main thread allocates on V8's
 * heap per request (`heap-profile.ts`), by the same categories.
 *
 * Writes `docs/cpu-profile.md` (the table, every thread's CPU by thread name from /proc, the main
 * thread's garbage collections per 1,000 requests, the top functions, the allocations) and
 * `docs/cpu-profile.svg` (the service's flame graph); the profiles themselves stay in
 * `.bench/profile/` (tens of MB).
 *
 * Options: --duration S (20), --warmup N (2000), --interval US (sampling, 250), --entry PATH
 * (another build's main.js: a prototype), --env K=V,K=V (the service's), --out NAME (docs/NAME.md
 * and .svg; default cpu-profile), --no-bare, --heap N (uploads whose allocations are sampled,
 * 1000; 0: none), --analyse (only analyse the profiles of the last run again).
 */
import { readdirSync, readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import { breakdown, flameGraphSvg, samplesIn, topSelf, type CpuProfile } from './cpu-profile.js';
import { benchCpu, describeCpu } from './cpu.js';
import { allocations, sampleAllocations } from './heap-profile.js';
import { benchImageDir, benchServiceEnv, processFigures, runJson, runLoad, startServer, type Server } from './processes.js';
import { threadCpuByName, threadCpuMs, threadCpuPer } from './threads.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2000' },
    interval: { type: 'string', default: '250' },
    entry: { type: 'string', default: path.join(rootDir, 'dist', 'src', 'main.js') },
    env: { type: 'string', default: '' },
    out: { type: 'string', default: 'cpu-profile' },
    'no-bare': { type: 'boolean', default: false },
    heap: { type: 'string', default: '1000' },
    analyse: { type: 'boolean', default: false },
  },
});
const dir = path.join(rootDir, '.bench', 'profile');
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);
const r2 = (x: number): number => Math.round(x * 100) / 100;
const extraEnv = Object.fromEntries(opt.env.split(',').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));

/** The main thread's profile among those `--cpu-prof` wrote to `into` (worker threads write their own). */
function mainThreadProfile(into: string): CpuProfile {
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: the main thread is thread 0.
  const file = readdirSync(into).find((n) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(n));
  if (!file) throw new Error(`no main-thread profile in ${into}`);
  return JSON.parse(readFileSync(path.join(into, file), 'utf8')) as CpuProfile;
}

const profArgs = (into: string): string[] => ['--cpu-prof', '--cpu-prof-dir', into, '--cpu-prof-interval', opt.interval];

/** What one side's run measured; its profile stays in `dir`. */
interface Side {
  readonly requests: number;
  readonly rps: number;
  /** Main-thread CPU per request (per image for the bare pipeline), from /proc. */
  readonly mainMsPerRequest: number;
  /** Every thread's. */
  readonly processMsPerRequest: number;
  /** By thread name (`threads.ts`). */
  readonly threadMsPerRequest?: Readonly<Record<string, number>>;
  /** The main thread's garbage collections per 1,000 requests, by kind (minor, major, incremental, weakcb). */
  readonly collectionsPerThousand?: Readonly<Record<string, number>>;
  readonly window: readonly [number, number];
  readonly load: readonly [number, number];
  /** When the measured window started (ISO 8601). */
  readonly startedAt?: string;
}

/** The service's garbage collections so far by kind, from prom-client's `nodejs_gc_duration_seconds_count`. */
async function collectionCounts(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return new Map([...text.matchAll(/^nodejs_gc_duration_seconds_count\{kind="(\w+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/**
 * Starts the compiled service with `nodeArgs` on `port` (the bench's environment), warms it up with
 * the development photos at c=16, runs `measure` on it and stops it, whatever happens.
 */
async function onWarmService<T>(label: string, nodeArgs: readonly string[], port: number, measure: (server: Server) => Promise<T>): Promise<T> {
  const server = await startServer('service', process.execPath, [...nodeArgs, opt.entry], port, '/health/ready', benchServiceEnv(port, extraEnv));
  try {
    log(`${label}: warming up (${opt.warmup} uploads at c=16)`);
    await runLoad(port, 16, '-n', opt.warmup);
    return await measure(server);
  } finally {
    await server.stop(); // a CPU profile is written as the process exits
  }
}

async function profileService(): Promise<Side> {
  const into = path.join(dir, 'service');
  const load0 = os.loadavg()[0]!;
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  const port = 18580;
  const { result, main0, main1, proc0, proc1, threads0, threads1, gc0, gc1, window, startedAt } = await onWarmService('service', profArgs(into), port, async (server) => {
    const gc0 = await collectionCounts(port);
    const threads0 = threadCpuByName(server.pid);
    const main0 = threadCpuMs(server.pid);
    const proc0 = processFigures(server.pid).cpuMs;
    const from = monotonicUs();
    const startedAt = new Date().toISOString();
    log(`service: measuring ${opt.duration} s at c=16`);
    const result = await runLoad(port, 16, '--warmup', '0', '-d', opt.duration);
    const window: [number, number] = [from, monotonicUs()];
    const main1 = threadCpuMs(server.pid);
    const proc1 = processFigures(server.pid).cpuMs;
    const threads1 = threadCpuByName(server.pid);
    const gc1 = await collectionCounts(port);
    return { result, main0, main1, proc0, proc1, threads0, threads1, gc0, gc1, window, startedAt };
  });
  const requests = result.ok + result.errors;
  return {
    requests,
    rps: result.rps,
    mainMsPerRequest: (main1 - main0) / requests,
    processMsPerRequest: (proc1 - proc0) / requests,
    threadMsPerRequest: threadCpuPer(threads0, threads1, requests),
    collectionsPerThousand: Object.fromEntries([...gc1].map(([kind, n]) => [kind, r2(((n - (gc0.get(kind) ?? 0)) * 1000) / requests)])),
    window,
    load: [load0, os.loadavg()[0]!],
    startedAt,
  };
}

async function profileBare(): Promise<Side> {
  const into = path.join(dir, 'bare');
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  log(`bare pipeline: ${opt.warmup} warm-up images, then ${opt.duration} s at c=16`);
  const load0 = os.loadavg()[0]!;
  const bare = await runJson<{
    ok: number;
    rps: number;
    cpuMsPerImage: number;
    mainThreadCpuMsPerImage: number;
    threadCpuMsPerImage: Record<string, number>;
    collectionsPerThousand: Record<string, number>;
    monotonicWindowUs: [number, number];
  }>(
    process.execPath,
    [...profArgs(into), path.join(path.dirname(new URL(import.meta.url).pathname), 'bare.js'), '-c', '16', '-d', opt.duration, '--warmup', opt.warmup, benchImageDir],
    benchServiceEnv(0, extraEnv),
  );
  return {
    requests: bare.ok,
    rps: bare.rps,
    mainMsPerRequest: bare.mainThreadCpuMsPerImage,
    processMsPerRequest: bare.cpuMsPerImage,
    threadMsPerRequest: bare.threadCpuMsPerImage,
    collectionsPerThousand: bare.collectionsPerThousand,
    window: bare.monotonicWindowUs,
    load: [load0, os.loadavg()[0]!],
  };
}

/** What the service's main thread allocated on V8's heap per request, in KiB (`heap-profile.ts`). */
interface HeapSide {
  readonly requests: number;
  readonly totalKibPerRequest: number;
  /** By category of `cpu-profile.ts`, largest first. */
  readonly kibPerRequest: Readonly<Record<string, number>>;
  /** The functions that allocated most, largest first. */
  readonly top: readonly (readonly [string, number])[];
}

/** Samples the allocations of `requests` uploads at c=16 on a service of its own, under the inspector. */
async function profileServiceHeap(requests: number): Promise<HeapSide> {
  const inspectPort = 19329;
  const port = 18581;
  return onWarmService('service under the heap profiler', [`--inspect=127.0.0.1:${inspectPort}`], port, async () => {
    log(`service under the heap profiler: ${requests} uploads at c=16`);
    const { profile, result } = await sampleAllocations(inspectPort, () => runLoad(port, 16, '--warmup', '0', '-n', String(requests)));
    const answered = result.ok + result.errors;
    const sampled = allocations(profile);
    const kib = (bytes: number): number => r2(bytes / answered / 1024);
    const largest = (m: ReadonlyMap<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
    return {
      requests: answered,
      totalKibPerRequest: kib(sampled.totalBytes),
      kibPerRequest: Object.fromEntries(largest(sampled.byCategory).map(([c, bytes]) => [c, kib(bytes)])),
      top: largest(sampled.byFunction).slice(0, 15).map(([f, bytes]) => [f, kib(bytes)] as const),
    };
  });
}

const sidesFile = path.join(dir, `${opt.out}.sides.json`);
const heapRequests = Number(opt.heap);
const sides: { service: Side; bare?: Side | undefined; heap?: HeapSide | undefined } = opt.analyse
  ? (JSON.parse(readFileSync(sidesFile, 'utf8')) as { service: Side; bare?: Side; heap?: HeapSide })
  : {
      service: await profileService(),
      bare: opt['no-bare'] ? undefined : await profileBare(),
      heap: heapRequests > 0 ? await profileServiceHeap(heapRequests) : undefined,
    };
if (!opt.analyse) writeFileSync(sidesFile, `${JSON.stringify(sides, null, 2)}\n`);
const { service, bare, heap } = sides;

// Each category's share of the main thread's samples, times its CPU per request from /proc.
// Samples after a gap of more than twice the usual one are the thread resuming (cpu-profile.ts).
const resumptionGapUs = (profile: CpuProfile): number => 2 * [...profile.timeDeltas].sort((a, b) => a - b)[profile.timeDeltas.length >> 1]!;
const serviceProfile = mainThreadProfile(path.join(dir, 'service'));
const serviceSamples = samplesIn(serviceProfile, ...service.window, resumptionGapUs(serviceProfile));
const bareProfile = bare ? mainThreadProfile(path.join(dir, 'bare')) : undefined;
const bareSamples = bare && bareProfile ? samplesIn(bareProfile, ...bare.window, resumptionGapUs(bareProfile)) : undefined;
const serviceMs = new Map(breakdown(serviceSamples).map(([c, share]) => [c, share * service.mainMsPerRequest]));
const bareMs = new Map(bare && bareSamples ? breakdown(bareSamples).map(([c, share]) => [c, share * bare.mainMsPerRequest]) : []);
const resumedShare = (s: ReturnType<typeof samplesIn>): string => `${Math.round((100 * s.resumed) / (s.length + s.resumed))} %`;
const categories = [...new Set([...serviceMs.keys(), ...bareMs.keys()])].sort(
  (a, b) => (serviceMs.get(b) ?? 0) - (bareMs.get(b) ?? 0) - ((serviceMs.get(a) ?? 0) - (bareMs.get(a) ?? 0)),
);

const fmt = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));

/** What runs on each named thread (`threads.ts`). */
const THREAD_ROLES: Readonly<Record<string, string>> = {
  MainThread: 'the event loop (HTTP, multipart, routing, validation; sharp\'s calls queued)',
  V8Worker: 'V8\'s helpers: concurrent marking and sweeping, parallel scavenges, compilation',
  'libuv-worker': 'libuv\'s pool: sharp\'s calls (decoding and resizing, with libvips\' threads)',
  'libvips worker': 'libvips\' threads: decoding, resizing',
  WorkerThread: 'worker threads: the inference worker (normalisation, onnxruntime)',
  jemalloc_bg_thd: 'jemalloc\'s background purging',
  'v8:ProfEvntProc': 'V8\'s CPU profiler: this measurement\'s own cost',
};

/** Every thread's CPU per request by thread name, service against bare pipeline (both runs' names). */
function threadTable(s: Side, b: Side | undefined): string[] {
  const sm = s.threadMsPerRequest ?? {};
  const bm = b?.threadMsPerRequest ?? {};
  const names = [...new Set([...Object.keys(sm), ...Object.keys(bm)])]
    .filter((n) => Math.max(sm[n] ?? 0, bm[n] ?? 0) >= 0.005)
    .sort((x, y) => (sm[y] ?? 0) - (bm[y] ?? 0) - ((sm[x] ?? 0) - (bm[x] ?? 0)));
  if (names.length === 0) return [];
  return [
    `Every thread's CPU per request, by thread name, in ms (from /proc over the same windows; a thread that ended within a window is not counted; both processes ran under the CPU profiler, whose sampling thread is listed too):`,
    '',
    `| thread | what runs there | service ms/request | bare ms/image | service − bare |`,
    `| --- | --- | ---: | ---: | ---: |`,
    ...names.map((n) => `| \`${n}\` | ${THREAD_ROLES[n] ?? ''} | ${fmt(sm[n])} | ${b ? fmt(bm[n]) : '–'} | ${b ? fmt((sm[n] ?? 0) - (bm[n] ?? 0)) : '–'} |`),
    '',
  ];
}

/** The main thread's garbage collections per 1,000 requests (images), service against bare pipeline. */
function collectionTable(s: Side, b: Side | undefined): string[] {
  const sc = s.collectionsPerThousand ?? {};
  const bc = b?.collectionsPerThousand ?? {};
  const kinds = ['minor', 'incremental', 'major'].filter((k) => k in sc || k in bc);
  if (kinds.length === 0) return [];
  return [
    `V8's collections of the main thread's heap per 1,000 requests (images) in the same windows (\`minor\`: scavenges of the young generation; \`incremental\` and \`major\`: the marking steps and the final pauses of full collections, whose marking runs mostly on \`V8Worker\`):`,
    '',
    `| kind | service | bare |`,
    `| --- | ---: | ---: |`,
    ...kinds.map((k) => `| ${k} | ${sc[k] ?? 0} | ${b ? (bc[k] ?? 0) : '–'} |`),
    '',
  ];
}

/** What the service allocated on V8's heap per request, by category and by function. */
function allocationTables(h: HeapSide | undefined): string[] {
  if (!h) return [];
  const rows = Object.entries(h.kibPerRequest).filter(([, kib]) => kib >= 0.1);
  return [
    `V8 heap the service's main thread allocates per request, in KiB, by the same categories: V8's sampling heap profiler (one sample per 8 KiB allocated on average; objects already collected counted too) through the inspector, on a service of its own (\`node --inspect\`, the same settings), ${opt.warmup} warm-up uploads, then ${h.requests} uploads at c=16: **${h.totalKibPerRequest} KiB per request** in all. This is what fills the young generation (its scavenges are counted above), not what stays live; a sampling profile, so the small rows are rough.`,
    '',
    `| category | KiB/request |`,
    `| --- | ---: |`,
    ...rows.map(([c, kib]) => `| ${c} | ${kib.toFixed(1)} |`),
    '',
    `The ${h.top.length} functions that allocated most (KiB per request):`,
    '',
    `| function | KiB/request |`,
    `| --- | ---: |`,
    ...h.top.map(([f, kib]) => `| \`${f.replace(/\|/g, '\\|')}\` | ${kib.toFixed(1)} |`),
    '',
  ];
}
const sum = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, x) => a + x, 0);
const lines = [
  `<!-- Generated by make bench-profile (scripts/bench/profile.ts); do not edit by hand. -->`,
  `# Where the event loop's CPU goes, per request`,
  '',
  `${(service.startedAt ?? new Date().toISOString()).slice(0, 16).replace('T', ' ')} UTC; ${describeCpu(benchCpu())}; Node ${process.version}.`,
  '',
  `- **Service**: \`node --cpu-prof --cpu-prof-interval ${opt.interval}\` on \`${path.relative(rootDir, opt.entry)}\`${opt.env ? ` (${opt.env})` : ''}, AUTH_DISABLED=true, LOG_LEVEL=warn, ${opt.warmup} warm-up uploads, then the development photos at c=16 for ${opt.duration} s: ${service.requests} requests, ${service.rps} req/s; load average ${r2(service.load[0])} → ${r2(service.load[1])}.`,
  bare ? `- **Bare pipeline** (\`scripts/bench/bare.ts\`: the same classifier in-process, 16 callers, no HTTP), likewise: ${bare.requests} images, ${bare.rps} img/s; load average ${r2(bare.load[0])} → ${r2(bare.load[1])}.` : '',
  '',
  `Main-thread CPU per request (per image for the bare pipeline), in ms: the main thread's CPU time from /proc, shared out by the CPU profile's samples (those taken as the thread resumed, after more than twice the usual interval (${resumptionGapUs(serviceProfile)} µs), left out: ${resumedShare(serviceSamples)} of the service's${bareSamples ? `, ${resumedShare(bareSamples)} of the bare pipeline's` : ''}; see scripts/bench/cpu-profile.ts). Each sample is charged to the first package or own module from the leaf of its stack up (Node's own code called by a package counts as that package's); "sharp: pipeline() / metadata() native call" is the synchronous part of sharp's native entry points (reading the options, queueing the work), the decoding itself runs on libuv's threads. Sorted by the service's excess over the bare pipeline.`,
  '',
  `| category | service ms/request | bare ms/image | service − bare |`,
  `| --- | ---: | ---: | ---: |`,
  ...categories
    .filter((c) => Math.max(serviceMs.get(c) ?? 0, bareMs.get(c) ?? 0) >= 0.005)
    .map((c) => {
      const s = serviceMs.get(c);
      const b = bare ? bareMs.get(c) : undefined;
      return `| ${c} | ${fmt(s)} | ${fmt(b)} | ${fmt((s ?? 0) - (b ?? 0))} |`;
    }),
  `| **main thread** | **${fmt(sum(serviceMs))}** | **${bare ? fmt(sum(bareMs)) : '–'}** | **${bare ? fmt(sum(serviceMs) - sum(bareMs)) : '–'}** |`,
  `| every thread (decoding, inference, V8's and libuv's threads) | ${fmt(service.processMsPerRequest)} | ${bare ? fmt(bare.processMsPerRequest) : '–'} | ${bare ? fmt(service.processMsPerRequest - bare.processMsPerRequest) : ''} |`,
  '',
  ...threadTable(service, bare),
  ...collectionTable(service, bare),
  `The service's 20 functions with the most self time on the main thread (ms per request):`,
  '',
  `| function | ms/request |`,
  `| --- | ---: |`,
  ...topSelf(serviceSamples, 20).map(([f, share]) => `| \`${f.replace(/\|/g, '\\|')}\` | ${fmt(share * service.mainMsPerRequest)} |`),
  '',
  `Flame graph of the service's main thread over the window: [${opt.out}.svg](${opt.out}.svg) (hover a frame for its share and category).`,
  '',
  ...allocationTables(heap),
];
mkdirSync(path.join(rootDir, 'docs'), { recursive: true });
writeFileSync(path.join(rootDir, 'docs', `${opt.out}.md`), lines.filter((l, i, a) => l !== '' || a[i - 1] !== '').join('\n'));
writeFileSync(
  path.join(rootDir, 'docs', `${opt.out}.svg`),
  flameGraphSvg(serviceSamples, `Service main thread, c=16, ${service.requests} requests over ${opt.duration} s (${new Date().toISOString().slice(0, 10)}): width = share of CPU samples`),
);
process.stdout.write(`${lines.join('\n')}\nwritten: docs/${opt.out}.md, docs/${opt.out}.svg\n`);
