/**
 * The forms an int8 backbone can be served in, and what `make model-report` measures of each:
 * which kernels onnxruntime runs them with on each kind of CPU, how fast one thread runs them,
 * and their outputs (features, probabilities) on images, to compare bit for bit.
 */
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../src/model/onnx/codec.js';
import type { ModelProto } from '../src/model/onnx/types.js';
import { ortSessionOptions } from '../src/model/engine/session.js';
import { prepareInt8Weights, type CpuFeatures } from '../src/model/int8/kernels.js';
import { unsignedWeightsModel } from '../src/model/int8/unsigned-weights.js';
import { int8WeightsCannotSaturate } from '../src/model/int8/weight-range.js';
import { FEATURES_OUTPUT, buildFeatureExtractor } from './training/backbone.js';
import { composeClassifier, PROBABILITIES_OUTPUT } from './training/compose.js';
import type { HeadFile } from './training/head-file.js';

/** One way of running a backbone: its weights and the kernels they lead onnxruntime to. */
export interface Form {
  readonly name: string;
  /** `Zoo` (full-range int8) or `7-bit` (tools/onnx/reduce-range.ts). */
  readonly weights: string;
  /** `u8s8` (int8 weights as stored), `u8u8` (re-typed as uint8) or `float32` (the exact reference). */
  readonly kernels: 'u8s8' | 'u8u8' | 'float32';
  /** The Cat/Dog/Other graph (backbone + head), bytes as handed to onnxruntime. */
  readonly classifier: Uint8Array;
  /** The backbone cut at its pooled features, in the same form. */
  readonly extractor: Uint8Array;
}

function inForm(model: ModelProto, kernels: Form['kernels']): Uint8Array {
  return encodeModel(kernels === 'u8u8' ? unsignedWeightsModel(model) : model);
}

/** The three forms of a backbone: int8 weights as stored, re-typed as uint8, and (`withExact`) the exact float32 reference. */
export function formsOf(weights: string, backbone: ModelProto, head: HeadFile, withExact: boolean): Form[] {
  const forms: Form[] = (['u8s8', 'u8u8'] as const).map((kernels) => ({
    name: `${weights}, ${kernels === 'u8s8' ? 'as-is' : 'unsigned'}`,
    weights,
    kernels,
    classifier: inForm(composeClassifier(backbone, head, 'int8'), kernels),
    extractor: inForm(buildFeatureExtractor(backbone, 'int8'), kernels),
  }));
  if (!withExact) return forms;
  return [
    ...forms,
    {
      name: `${weights}, exact float32`,
      weights,
      kernels: 'float32',
      classifier: encodeModel(composeClassifier(backbone, head, 'float-steps')),
      extractor: encodeModel(buildFeatureExtractor(backbone, 'float-steps')),
    },
  ];
}

/** Kinds of CPU as `INT8_WEIGHTS=auto` sees them. */
export const CPUS: readonly { readonly name: string; readonly cpu: CpuFeatures; readonly u8s8: string }[] = [
  { name: 'x86-64 AVX2 or AVX-512, no VNNI', cpu: { arch: 'x64', flags: new Set(['avx2', 'avx512bw']) }, u8s8: 'VPMADDUBSW: int16 pair sums, saturating' },
  { name: 'x86-64 AVX-512 VNNI or AVX-VNNI', cpu: { arch: 'x64', flags: new Set(['avx2', 'avx512_vnni', 'avx_vnni']) }, u8s8: 'VPDPBUSD: int32 sums' },
  { name: 'x86-64 AMX', cpu: { arch: 'x64', flags: new Set(['amx_int8', 'avx512_vnni']) }, u8s8: 'TDPBUSD: int32 sums' },
  { name: 'ARM64', cpu: { arch: 'arm64', flags: new Set() }, u8s8: 'widening / SDOT-UDOT: int32 sums' },
  { name: 'unknown (no /proc/cpuinfo)', cpu: { arch: 'x64', flags: new Set() }, u8s8: 'as on AVX2 (assumed)' },
];

/** What `INT8_WEIGHTS=auto` runs a model with on `cpu`, and whether the sums are then exact, and why. */
export function autoChoice(model: ModelProto, bytes: Uint8Array, entry: (typeof CPUS)[number]): string {
  const form = prepareInt8Weights(bytes, 'auto', entry.cpu).int8Weights;
  if (form === 'unsigned') return 'u8u8 (re-typed), exact';
  const cpuExact = !entry.u8s8.includes('saturating') && !entry.u8s8.includes('assumed');
  if (cpuExact) return 'u8s8, exact (CPU)';
  return int8WeightsCannotSaturate(model) ? 'u8s8, exact (weights within ±64)' : 'u8s8, NOT exact';
}

/** An onnxruntime session on one thread, as the service's options build it. */
export function oneThreadSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, ortSessionOptions({ intraOpThreads: 1, interOpThreads: 1 }));
}

/** Runs `session` on `inputs` (each [3,224,224]) in batches of `batch`; returns one output row per input. */
export async function runRows(session: ort.InferenceSession, inputs: readonly Float32Array[], batch: number, output: string): Promise<Float32Array[]> {
  const size = inputs[0]?.length ?? 0;
  const rows: Float32Array[] = [];
  for (let i = 0; i < inputs.length; i += batch) {
    const chunk = inputs.slice(i, i + batch);
    const data = new Float32Array(chunk.length * size);
    chunk.forEach((x, j) => data.set(x, j * size));
    const out = (await session.run({ input: new ort.Tensor('float32', data, [chunk.length, 3, 224, 224]) }))[output]!;
    const width = (out.data as Float32Array).length / chunk.length;
    for (let j = 0; j < chunk.length; j++) rows.push((out.data as Float32Array).slice(j * width, (j + 1) * width));
  }
  return rows;
}

/** Milliseconds per image of one pass over `inputs` in batches of `batch`. */
export async function msPerImage(session: ort.InferenceSession, inputs: readonly Float32Array[], batch: number): Promise<number> {
  const started = performance.now();
  await runRows(session, inputs, batch, PROBABILITIES_OUTPUT);
  return (performance.now() - started) / inputs.length;
}

/** Features (pooled, float32) of each input with a feature extractor (a form's `extractor`). */
export async function featuresOf(extractor: Uint8Array, inputs: readonly Float32Array[]): Promise<Float32Array[]> {
  const session = await oneThreadSession(extractor);
  try {
    return await runRows(session, inputs, 1, FEATURES_OUTPUT);
  } finally {
    await session.release();
  }
}

/** How many rows of `a` equal those of `b` bit for bit. */
export function identicalRows(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  return a.filter((row, i) => row.length === b[i]?.length && row.every((v, j) => Object.is(v, b[i]![j]))).length;
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
