/**
 * Reads a V8 CPU profile (`node --cpu-prof`) of one thread and says where its time went in a
 * window: each sample is charged to a category by the first frame, from the leaf up, that
 * belongs to a package or to our code (so Node's stream or socket code called by busboy is
 * busboy's, and only what no package asked for is "Node core"); sharp's synchronous native
 * calls (`pipeline()`, `metadata()`) are told apart from its JavaScript. Also draws a flame graph
 * of the window as SVG.
 *
 * Samples are counted, not weighted by the time between them: V8 samples at intervals of wall
 * time, and a thread kept off its core by the machine's other work is sampled once when it
 * resumes, after a long interval (on a loaded machine the intervals added up to 2.5 times the
 * thread's CPU time from /proc). Those resumption samples are left out too: they land where the
 * thread was preempted, and it is preempted most often right where it wakes another thread
 * (queueing a decode on libuv's pool, posting a batch to the inference worker), which they
 * would charge with a whole interval each. The counts' shares are then scaled by the caller to
 * the thread's CPU time from /proc.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One frame of a V8 CPU profile. */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

/** The `.cpuprofile` format (Chrome DevTools protocol, `Profiler.Profile`); times in µs of the monotonic clock. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A stack, root first, as `{ fn, url }` frames. */
type Stack = readonly { readonly fn: string; readonly url: string; readonly line: number }[];

/** What a category rule matches: a package directory under node_modules. */
const PACKAGES: readonly [RegExp, string][] = [
  [/\/node_modules\/(@koa\/multer|multer|busboy|streamsearch|concat-stream|append-field|type-is|media-typer)\//, 'multipart (multer, busboy)'],
  [/\/node_modules\/(openapi-backend|ajv|ajv-formats|lodash|bath-es5|openapi-types|fast-uri|qs|cookie|mock-json-schema|@apidevtools)\//, 'openapi-backend (routing, validation, lodash)'],
  [/\/node_modules\/(koa|koa-compose|koa-body|co-body|raw-body|inflation|on-finished|statuses|http-errors|cookies|delegates|content-type|vary|accepts|negotiator|encodeurl|escape-html|fresh|mime-types|mime-db|depd|destroy|ee-first|only|http-assert|content-disposition|@hapi)\//, 'Koa and its helpers'],
  [/\/node_modules\/(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify|@pinojs)\//, 'logging (pino)'],
  [/\/node_modules\/(prom-client|tdigest|bintrees)\//, 'metrics (prom-client)'],
  [/\/node_modules\/(jose|openid-client|oauth4webapi)\//, 'auth (jose)'],
  [/\/node_modules\/onnxruntime-node\//, 'onnxruntime-node (JS side)'],
];

const sources = new Map<string, string[]>();

/** `pipeline` or `metadata` when `frame` is a sharp function that only calls `sharp.pipeline(…)` or `sharp.metadata(…)` (read from its source). */
function nativeCallAt(frame: Stack[number]): string | undefined {
  if (frame.fn !== '(anonymous)' || !frame.url.startsWith('file:')) return undefined;
  let lines = sources.get(frame.url);
  if (!lines) {
    try {
      lines = readFileSync(fileURLToPath(frame.url), 'utf8').split('\n');
    } catch {
      lines = [];
    }
    sources.set(frame.url, lines);
  }
  return /\bsharp\.(pipeline|metadata)\(/.exec(lines.slice(frame.line, frame.line + 2).join('\n'))?.[1];
}

/** The category of a sample's stack (root first). */
export function categorise(stack: Stack): string {
  const leaf = stack.at(-1);
  if (!leaf) return '(none)';
  if (leaf.fn === '(garbage collector)') return 'GC (main thread)';
  if (leaf.fn === '(program)') return 'V8/native, no JS frame ((program))';
  if (leaf.fn === '(idle)') return '(idle)';
  for (let i = stack.length - 1; i >= 0; i--) {
    const { url } = stack[i]!;
    if (!url || url.startsWith('node:')) continue;
    if (/\/node_modules\/sharp\//.test(url)) {
      // A native function's time is its JavaScript caller's self time: sharp's promise
      // executors that only call `sharp.pipeline(…)` or `sharp.metadata(…)`.
      const native = i === stack.length - 1 ? nativeCallAt(stack[i]!) : undefined;
      if (native) return `sharp: ${native}() native call`;
      return 'sharp: JavaScript (constructor, options, colours)';
    }
    for (const [pattern, name] of PACKAGES) if (pattern.test(url)) return name;
    if (/\/node_modules\//.test(url)) return `other packages (${/\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'})`;
    const own = /\/(?:dist\/)?(src|scripts)\/(.+?)\.(?:js|ts)$/.exec(url);
    if (own) return `own code (${own[1]}/${own[2]})`;
    return `other (${url.split('/').slice(-2).join('/')})`;
  }
  // Only Node's own frames: the HTTP parser, sockets, streams, timers, worker messages.
  const nodeModule = [...stack].reverse().find((f) => f.url.startsWith('node:'))?.url.replace(/^node:(internal\/)?/, '') ?? 'native';
  return `Node core (${/^(_http|http|net|stream|streams|timers|worker|process|events)/.exec(nodeModule)?.[1] ?? 'other'})`;
}

/**
 * The samples of `profile` taken within `[fromUs, toUs]` (monotonic µs), their stacks; those
 * taken after a gap of more than `maxGapUs` since the previous one (the thread resuming) are
 * left out and counted in `resumed`.
 */
export function samplesIn(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity, maxGapUs = Infinity): Stack[] & { resumed: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map<number, Stack>();
  const stackOf = (id: number): Stack => {
    let s = stacks.get(id);
    if (s) return s;
    const frames = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
      if (functionName === '(root)') break;
      frames.push({ fn: functionName || '(anonymous)', url, line: lineNumber });
    }
    s = frames.reverse();
    stacks.set(id, s);
    return s;
  };
  const out = Object.assign([] as Stack[], { resumed: 0 });
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const gap = profile.timeDeltas[i]!;
    t += gap;
    if (t < fromUs || t > toUs) continue;
    if (gap > maxGapUs) out.resumed++;
    else out.push(stackOf(profile.samples[i]!));
  }
  return out;
}

/** Whether a sample found the thread idle (waiting in the event loop). */
export const isIdle = (stack: Stack): boolean => stack.at(-1)?.fn === '(idle)';

/** Each category's share of the non-idle samples, largest first. */
export function breakdown(samples: readonly Stack[]): [string, number][] {
  const counts = new Map<string, number>();
  let busy = 0;
  for (const stack of samples) {
    if (isIdle(stack)) continue;
    const cat = categorise(stack);
    counts.set(cat, (counts.get(cat) ?? 0) + 1);
    busy++;
  }
  return [...counts].map(([c, n]): [string, number] => [c, n / Math.max(1, busy)]).sort((a, b) => b[1] - a[1]);
}

/** A frame's place, shortened: a package's path from its folder, our code from `src/`, Node's module. */
function place(url: string): string {
  return url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(dist\/)?(src|scripts)\//, '$2/').replace(/^node:/, '');
}

/** A frame as the tables name it: `name (file:line)`, its place shortened. */
export function frameName(frame: Stack[number]): string {
  return `${frame.fn}${frame.url ? ` (${place(frame.url)}:${frame.line + 1})` : ''}`;
}

/** The functions with the largest shares of self time (idle excluded): `name (file:line)` and share. */
export function topSelf(samples: readonly Stack[], n: number): [string, number][] {
  const counts = new Map<string, number>();
  let busy = 0;
  for (const stack of samples) {
    const f = stack.at(-1);
    if (!f || isIdle(stack)) continue;
    const key = frameName(f);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    busy++;
  }
  return [...counts].map(([k, c]): [string, number] => [k, c / Math.max(1, busy)]).sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** Category colours of the flame graph (by the category's first word). */
function colour(category: string): string {
  const table: [RegExp, string][] = [
    [/^sharp/, '#e6550d'], [/^multipart/, '#3182bd'], [/^openapi/, '#756bb1'], [/^Koa/, '#31a354'], [/^logging/, '#969696'],
    [/^metrics/, '#bdbdbd'], [/^own/, '#e7ba52'], [/^Node core/, '#9ecae1'], [/^GC/, '#d62728'], [/^V8/, '#fdae6b'],
  ];
  return table.find(([p]) => p.test(category))?.[1] ?? '#c7e9c0';
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * An icicle flame graph (root on top) of `samples`, frames narrower than `minShare` of the total
 * left out; each frame coloured by the category its samples are charged to.
 */
export function flameGraphSvg(samples: readonly Stack[], title: string, minShare = 0.004): string {
  interface Frame { name: string; n: number; cats: Map<string, number>; children: Map<string, Frame> }
  const root: Frame = { name: 'all', n: 0, cats: new Map(), children: new Map() };
  for (const stack of samples) {
    if (isIdle(stack)) continue;
    const cat = categorise(stack);
    let f = root;
    f.n += 1;
    for (const frame of stack) {
      const file = frame.url ? place(frame.url) : '';
      const name = `${frame.fn}${file ? ` ${file}` : ''}`;
      let child = f.children.get(name);
      if (!child) f.children.set(name, (child = { name, n: 0, cats: new Map(), children: new Map() }));
      child.n += 1;
      child.cats.set(cat, (child.cats.get(cat) ?? 0) + 1);
      f = child;
    }
  }
  const W = 1200;
  const ROW = 16;
  const rects: string[] = [];
  let depth = 0;
  const draw = (f: Frame, x: number, level: number): void => {
    const w = (f.n / root.n) * W;
    if (f.n / root.n < minShare) return;
    depth = Math.max(depth, level);
    const cat = [...f.cats].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    const y = 30 + level * ROW;
    const label = w > 60 ? escapeXml(f.name.slice(0, Math.floor(w / 6.5))) : '';
    rects.push(
      `<g><title>${escapeXml(`${f.name} — ${((f.n / root.n) * 100).toFixed(1)} % — ${cat}`)}</title>` +
        `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${ROW - 1}" fill="${level === 0 ? '#dddddd' : colour(cat)}"/>` +
        (label ? `<text x="${(x + 3).toFixed(1)}" y="${y + 11}" font-size="10">${label}</text>` : '') + '</g>',
    );
    let cx = x;
    for (const c of [...f.children.values()].sort((a, b) => b.n - a.n)) {
      draw(c, cx, level + 1);
      cx += (c.n / root.n) * W;
    }
  };
  draw(root, 0, 0);
  const H = 30 + (depth + 1) * ROW + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans Mono, monospace">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="6" y="18" font-size="13">${escapeXml(title)}</text>
${rects.join('\n')}
</svg>
`;
}
