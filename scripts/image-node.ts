/**
 * The Node.js the Docker image ships, outside Docker: `make prod-smoke` starts the service with it
 * and `make test-image-node` runs the test suite with it, whatever Node runs `make`.
 *
 * The Dockerfile is the one place that says which: the major version of its runtime stage's
 * `FROM node:<major>-…` image, and that stage's `ENV` (the memory settings among them). The
 * binary comes from the npm registry's `node-<platform>-<arch>` package (the official build,
 * repackaged), the newest release of that major, and is kept in `.cache/node/` (shared with
 * `scripts/node-runtime.sh`, which gives make the same Node where the one on PATH is too old;
 * `make clean` keeps it). The Node running this script is used when it is already of
 * that major; `IMAGE_NODE=/path/to/node` names another binary of that major.
 *
 *   tsx scripts/image-node.ts                          # prints the binary's path
 *   tsx scripts/image-node.ts --unless-running -- CMD  # runs CMD with that node first in PATH
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rootDir as root } from '../src/spec.js';

const cacheDir = path.join(root, '.cache', 'node');

/** What the Dockerfile's runtime stage runs on. */
export interface ImageRuntime {
  /** Major version of the `node:<major>-…` base image. */
  readonly nodeMajor: number;
  /** The runtime stage's `ENV` settings, in order. */
  readonly env: Readonly<Record<string, string>>;
}

/** The image's `ENV` that bears on memory: its allocator (jemalloc's preload and settings, glibc's), V8's young generation. */
export const MEMORY_ENV = ['LD_PRELOAD', 'MALLOC_CONF', 'NODE_OPTIONS', 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_'] as const;

/** Splits `K=V K2="V 2"` into pairs (the `ENV` forms this Dockerfile uses). */
function envPairs(args: string): [string, string][] {
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map(([, key, value]) => [
    key!,
    value!.startsWith('"') ? value!.slice(1, -1).replace(/\\(.)/g, '$1') : value!,
  ]);
}

/** Reads the Dockerfile's runtime stage (its last): the Node major of its base image and its `ENV`. */
export function readImageRuntime(dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8')): ImageRuntime {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = new Map<string, string>();
  let from: string | undefined;
  let env: Record<string, string> = {};
  for (const line of lines) {
    const [keyword = '', rest = ''] = line.split(/\s+(.*)/s);
    if (/^ARG$/i.test(keyword)) for (const [k, v] of envPairs(rest)) args.set(k, v);
    if (/^FROM$/i.test(keyword)) {
      from = rest.split(/\s+/)[0]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => args.get((a ?? b)!) ?? '');
      env = {};
    }
    if (/^ENV$/i.test(keyword)) for (const [k, v] of envPairs(rest)) env[k] = v;
  }
  const major = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)\b/.exec(from ?? '')?.[1];
  if (major === undefined) throw new Error(`the Dockerfile's runtime stage is not FROM node:<major>-… (${from ?? 'no FROM'})`);
  return { nodeMajor: Number(major), env };
}

/** The `node` binary of an unpacked `node-<platform>-<arch>` package version, if it runs. */
function version(binary: string): string | undefined {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim().replace(/^v/, '') : undefined;
}

const majorOf = (v: string): number => Number(v.split('.')[0]);
const byVersion = (a: string, b: string): number => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  return x!.reduce((d, n, i) => d || n - y![i]!, 0);
};

/** The cached binary of `major`, newest first, if one is there and runs. */
async function cached(major: number): Promise<string | undefined> {
  const names = existsSync(cacheDir) ? await readdir(cacheDir) : [];
  const versions = names.map((n) => /^node-v(\d+\.\d+\.\d+)$/.exec(n)?.[1]).filter((v): v is string => v !== undefined && majorOf(v) === major);
  for (const v of versions.sort(byVersion).reverse()) {
    const binary = path.join(cacheDir, `node-v${v}`, 'bin', 'node');
    if (version(binary) === v) return binary;
  }
  return undefined;
}

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Downloads the newest `major` release from the npm registry into the cache; returns its binary. */
async function download(major: number, log: (line: string) => void): Promise<string> {
  const spec = `node-${process.platform}-${process.arch}@${major}`;
  const failed = (why: string): Error => {
    const registry = spawnSync('npm', ['config', 'get', 'registry'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || 'the npm registry';
    return new Error(
      `could not obtain Node ${major} (the Docker image's) from the npm registry: ${why}\n` +
        `  tried: npm pack ${spec} (${registry})\n` +
        `  fix: make the npm registry reachable, or set IMAGE_NODE=/path/to/a/node-${major}/binary`,
    );
  };
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(path.join(cacheDir, 'download-'));
  try {
    log(`downloading ${spec} from the npm registry`);
    const pack = await run('npm', ['pack', spec, '--json', '--loglevel=error', '--pack-destination', work], work);
    if (pack.code !== 0) {
      const errors = pack.stderr.split('\n').filter((l) => l.startsWith('npm error') && !/A complete log/.test(l));
      throw failed(errors.slice(0, 3).join('; ') || `npm pack exited with ${pack.code}`);
    }
    const [packed] = JSON.parse(pack.stdout) as { filename: string; version: string }[];
    if (!packed || majorOf(packed.version) !== major) throw failed(`npm pack gave ${packed?.version ?? 'nothing'}`);
    const untar = await run('tar', ['-xzf', packed.filename], work);
    if (untar.code !== 0) throw failed(`tar -xzf ${packed.filename}: ${untar.stderr.trim()}`);
    const unpacked = path.join(work, 'package');
    if (version(path.join(unpacked, 'bin', 'node')) !== packed.version) throw failed(`the binary of ${packed.version} does not run here`);
    const target = path.join(cacheDir, `node-v${packed.version}`);
    // Another run may have put the same version in place meanwhile: keep the first.
    await rename(unpacked, target).catch(() => undefined);
    log(`Node ${packed.version} kept in ${path.relative(root, target)}`);
    return path.join(target, 'bin', 'node');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * A `node` binary of the image's major: `IMAGE_NODE`, the running one, a cached one, or one
 * downloaded now. Rejects, saying what was tried and how to fix it, when none can be had.
 */
export async function imageNode(major = readImageRuntime().nodeMajor, log: (line: string) => void = () => {}): Promise<string> {
  const named = process.env.IMAGE_NODE;
  if (named) {
    const v = version(named);
    if (v === undefined || majorOf(v) !== major) throw new Error(`IMAGE_NODE=${named} is ${v ? `Node ${v}` : 'not a runnable node'}, not Node ${major} (the Docker image's)`);
    return named;
  }
  if (majorOf(process.versions.node) === major) return process.execPath;
  return (await cached(major)) ?? download(major, log);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const log = (line: string): void => void process.stderr.write(`image-node: ${line}\n`);
  const { nodeMajor } = readImageRuntime();
  const separator = args.indexOf('--');
  if (separator < 0) {
    process.stdout.write(`${await imageNode(nodeMajor, log)}\n`);
    return;
  }
  const [command, ...rest] = args.slice(separator + 1);
  if (command === undefined) throw new Error('nothing to run after --');
  if (args.includes('--unless-running') && majorOf(process.versions.node) === nodeMajor) {
    log(`this is already Node ${process.versions.node}, the Docker image's major: nothing more to run`);
    return;
  }
  const binary = await imageNode(nodeMajor, log);
  log(`running ${[command, ...rest].join(' ')} on Node ${version(binary)} (${binary})`);
  const child = spawn(command, rest, {
    stdio: 'inherit',
    env: { ...process.env, PATH: `${path.dirname(binary)}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  process.exitCode = code ?? 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main().catch((err: unknown) => {
    process.stderr.write(`image-node: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
