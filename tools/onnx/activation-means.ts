/**
 * Measures what {@link reduceWeightRange}'s bias correction needs: the per-channel mean of the
 * uint8 activations that enter each QLinearConv of a QOperator model (those with a bias to correct), over a set
 * of inputs; and reads and writes them as a small committed JSON file (`make calibrate` →
 * resources/models/activation-means.json), so that `make model` needs no photos.
 *
 * The model runs with its weights re-typed as uint8 (src/model/int8/unsigned-weights.ts): exact
 * integer arithmetic on every CPU, so the means do not depend on the machine that measured them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../../src/model/onnx/codec.js';
import type { ModelProto } from '../../src/model/onnx/types.js';
import { DataType } from '../../src/model/onnx/types.js';
import { unsignedWeightsModel } from '../../src/model/int8/unsigned-weights.js';
import type { InputMeans, TensorMeans } from './reduce-range.js';

/** Format tag of the means file. */
export const MEANS_FORMAT = 'catdog-activation-means/1';

/** The means file: what was measured, on which model and photos. */
export interface ActivationMeansFile {
  readonly format: typeof MEANS_FORMAT;
  /** The model measured (the Zoo's int8 file): its name and SHA-256. */
  readonly model: { readonly file: string; readonly sha256: string };
  /** How the inputs were made: photos, mirror images, resize. */
  readonly inputs: { readonly images: number; readonly flip: boolean; readonly resize: string };
  readonly tensors: InputMeans;
}

/** Names of the uint8 activations read by the model's convolutions (not initialisers, not graph inputs). */
function linearInputs(model: ModelProto): string[] {
  const graph = model.graph ?? {};
  const constant = new Set([...(graph.initializer ?? []), ...(graph.input ?? [])].map((t) => t.name ?? ''));
  const names = (graph.node ?? []).filter((n) => n.opType === 'QLinearConv').map((n) => n.input?.[0] ?? '');
  return [...new Set(names)].filter((name) => name !== '' && !constant.has(name));
}

/** Adds per-channel sums of one output (batch of one) to `sums`; channels are axis 1. */
function accumulate(sums: Map<string, { shape: number[]; sum: Float64Array }>, name: string, t: ort.Tensor): void {
  const shape = t.dims.slice(1);
  const entry = sums.get(name) ?? { shape, sum: new Float64Array(shape[0] ?? 0) };
  const data = t.data as Uint8Array;
  const channels = shape[0] ?? 0;
  const plane = data.length / channels;
  for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) s += data[i]!;
    entry.sum[c]! += s / plane;
  }
  sums.set(name, entry);
}

/**
 * Runs `model` on each input tensor (`dims`, one image) and returns the per-channel mean of every
 * convolution's activation input, rounded to 1/1000 of a quantisation step.
 */
export async function measureInputMeans(model: ModelProto, inputs: Iterable<Float32Array>, dims: readonly number[]): Promise<InputMeans> {
  const names = linearInputs(model);
  const graph = model.graph ?? {};
  const unsigned = unsignedWeightsModel(model);
  const probe: ModelProto = {
    ...unsigned,
    graph: { ...unsigned.graph, output: [...(graph.output ?? []), ...names.map((name) => ({ name, type: { tensorType: { elemType: DataType.UINT8 } } }))] },
  };
  const session = await ort.InferenceSession.create(encodeModel(probe), { logSeverityLevel: 3, intraOpNumThreads: 1 });
  const sums = new Map<string, { shape: number[]; sum: Float64Array }>();
  let count = 0;
  try {
    for (const x of inputs) {
      const out = await session.run({ [graph.input?.[0]?.name ?? '']: new ort.Tensor('float32', x, [...dims]) });
      for (const name of names) accumulate(sums, name, out[name]!);
      count++;
    }
  } finally {
    await session.release();
  }
  const result: Record<string, TensorMeans> = {};
  for (const name of names) {
    const { shape, sum } = sums.get(name)!;
    result[name] = { shape, mean: Array.from(sum, (v) => Math.round((v / count) * 1000) / 1000) };
  }
  return result;
}

/** Checks a parsed means file's shape; throws naming the problem. */
function parseMeansFile(value: unknown, file: string): ActivationMeansFile {
  const f = value as Partial<ActivationMeansFile>;
  const problems: string[] = [];
  if (f?.format !== MEANS_FORMAT) problems.push(`format is not ${MEANS_FORMAT}`);
  if (!/^[0-9a-f]{64}$/.test(f?.model?.sha256 ?? '')) problems.push('model.sha256 is not a SHA-256');
  for (const [name, t] of Object.entries(f?.tensors ?? {})) {
    if (!Array.isArray(t.mean) || t.mean.length !== t.shape?.[0] || t.mean.some((v) => typeof v !== 'number')) problems.push(`${name}: one mean per channel`);
  }
  if (problems.length > 0) throw new Error(`activation means ${file}: ${problems.join('; ')}`);
  return f as ActivationMeansFile;
}

/** Reads and checks a means file. */
export async function readMeansFile(file: string): Promise<ActivationMeansFile> {
  return parseMeansFile(JSON.parse(await readFile(file, 'utf8')), file);
}

/** Writes a means file, one tensor a line. */
export async function writeMeansFile(file: string, means: ActivationMeansFile): Promise<void> {
  const { tensors, ...rest } = means;
  const head = JSON.stringify(rest, null, 2).replace(/\n}$/, '');
  const lines = Object.entries(tensors).map(([name, t]) => `    ${JSON.stringify(name)}: ${JSON.stringify(t)}`);
  await writeFile(file, `${head},\n  "tensors": {\n${lines.join(',\n')}\n  }\n}\n`);
}
