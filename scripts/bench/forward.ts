/**
 * The forward pass alone: onnxruntime sessions of the default model with different session
 * options, run in turn on the same preprocessed photos at several batch sizes, round by round, in
 * one process (no HTTP, no decoding): images per second and CPU milliseconds per image of each,
 * and each variant's ratios against the first. For choosing the engine's defaults
 * (src/model/defaults.ts) before measuring them in the service with `make bench --variant`.
 *
 * @example node .bench/build/scripts/bench/forward.js --batch 1,4,8,16 --seconds 3 --rounds 3 \
 *   --variant default: --variant basic:graphOptimizationLevel=basic --variant t2-nospin:intraOpThreads=2,allowSpinning=false
 *
 * A variant sets any of `intraOpThreads`, `interOpThreads`, `executionMode` (sequential |
 * parallel), `graphOptimizationLevel` (disabled | basic | extended | all), `allowSpinning`
 * (true | false); unset options take the service's defaults (one intra-op thread, `all`,
 * sequential, spinning). The model's int8 weights are prepared as the service does
 * (`INT8_WEIGHTS=auto`).
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config/config.js';
import { classifierDefaults } from '../../src/model/defaults.js';
import { batchRunner, ortSessionOptions } from '../../src/model/engine/session.js';
import type { SessionOptions } from '../../src/model/engine/types.js';
import { prepareInt8Weights } from '../../src/model/int8/kernels.js';
import { loadManifest } from '../../src/model/manifest.js';
import { createDecoder } from '../../src/model/image/preprocess.js';
import { compareVersions, scanRepository } from '../../src/repository/layout.js';
import { benchCpu, describeCpu } from './cpu.js';
import { loadImages } from './images.js';
import { benchImageDir } from './processes.js';

const { values: opt } = parseArgs({
  options: {
    batch: { type: 'string', default: '1,4,8,16' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    variant: { type: 'string', multiple: true },
  },
});
const batches = opt.batch.split(',').map(Number);
const seconds = Number(opt.seconds);
const rounds = Number(opt.rounds);

/** Parses `name:key=value,…` into session options. */
function variantOf(spec: string): { name: string; options: SessionOptions } {
  const [name, vars = ''] = spec.split(/:(.*)/s) as [string, string?];
  const options: Record<string, unknown> = { intraOpThreads: classifierDefaults.intraOpThreads };
  for (const [key, value] of vars.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string])) {
    options[key] = /^\d+$/.test(value) ? Number(value) : value === 'true' ? true : value === 'false' ? false : value;
  }
  return { name, options: options };
}
const variants = (opt.variant ?? ['default:']).map(variantOf);

const config = loadConfig({ ...process.env, AUTH_DISABLED: 'true' });
const { models } = config;
const versions = (await scanRepository(models.repositoryPath)).get(models.defaultModel);
const newest = [...(versions?.keys() ?? [])].sort(compareVersions).at(-1);
const manifestPath = versions?.get(newest ?? '')?.manifestPath;
if (!manifestPath) throw new Error(`no version of ${models.defaultModel}: run make model`);
const manifest = await loadManifest(manifestPath);
const model = prepareInt8Weights(await readFile(manifest.file), 'auto').bytes;
const decode = createDecoder(manifest.input, config.images);
const pixels = await Promise.all((await loadImages(benchImageDir)).map((image) => decode(image.bytes)));

const runners = await Promise.all(
  variants.map(async (v) => {
    const session = await ort.InferenceSession.create(model, ortSessionOptions(v.options));
    return { ...v, run: batchRunner(session, { input: manifest.input, outputName: manifest.output.name }) };
  }),
);

/** Runs batches of `size` for `seconds`; images per second and CPU ms per image. */
async function measure(run: (typeof runners)[number]['run'], size: number): Promise<{ imagesPerS: number; cpuMsPerImage: number }> {
  let next = 0;
  const batch = (): Uint8Array[] => Array.from({ length: size }, () => pixels[next++ % pixels.length]!);
  for (let i = 0; i < 3; i++) await run(batch());
  let images = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await run(batch());
    images += size;
  }
  const cpu = process.cpuUsage(cpu0);
  return { imagesPerS: images / ((performance.now() - t0) / 1000), cpuMsPerImage: (cpu.user + cpu.system) / 1000 / images };
}

const results = new Map<string, { imagesPerS: number; cpuMsPerImage: number }[]>();
const load0 = os.loadavg()[0]!;
for (let round = 1; round <= rounds; round++) {
  for (const size of batches) {
    for (const r of runners) {
      const m = await measure(r.run, size);
      const key = `${r.name}/${size}`;
      results.set(key, [...(results.get(key) ?? []), m]);
      process.stderr.write(`round ${round} batch ${size} ${r.name}: ${m.imagesPerS.toFixed(1)} img/s, ${m.cpuMsPerImage.toFixed(2)} CPU ms/img\n`);
    }
  }
}
const load1 = os.loadavg()[0]!;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Per-round ratio of `name`'s figure over the first variant's at `size`: median (range). */
const ratio = (name: string, size: number, f: (m: { imagesPerS: number; cpuMsPerImage: number }) => number): string => {
  const a = results.get(`${name}/${size}`)!;
  const b = results.get(`${variants[0]!.name}/${size}`)!;
  const rs = a.map((m, i) => f(m) / f(b[i]!));
  return `${median(rs).toFixed(2)} (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
};
const lines = [
  `${describeCpu(benchCpu())}; load average ${load0.toFixed(2)} → ${load1.toFixed(2)}; ${rounds} rounds of ${seconds} s per point`,
  `| variant | options | batch | img/s | CPU ms/img | img/s ÷ first | CPU ÷ first |`,
  `| --- | --- | ---: | ---: | ---: | ---: | ---: |`,
  ...batches.flatMap((size) =>
    runners.map((r) => {
      const ms = results.get(`${r.name}/${size}`)!;
      return `| ${r.name} | ${JSON.stringify(r.options)} | ${size} | ${median(ms.map((m) => m.imagesPerS)).toFixed(1)} | ${median(ms.map((m) => m.cpuMsPerImage)).toFixed(2)} | ${ratio(r.name, size, (m) => m.imagesPerS)} | ${ratio(r.name, size, (m) => m.cpuMsPerImage)} |`;
    }),
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
