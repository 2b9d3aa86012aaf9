/**
 * The classifier: one onnxruntime session, created once at start-up, behind
 * preprocessing and postprocessing built from the model's manifest.
 *
 * Model contract (what a manifest promises about its ONNX file):
 * - one float32 image input named `input.name`, shaped `[N, 3, H, W]` (NCHW) or `[N, H, W, 3]`
 *   (NHWC), with a dynamic or fixed batch dimension N;
 * - pixel values `(p * scale - mean) / std` per channel, in `channels` order (RGB or BGR);
 * - one float32 output named `output.name` shaped `[N, K]`, with K = `labels.length`, or
 *   K = `grouping.classes` when model classes are grouped onto the served labels;
 * - `activation` turns raw outputs into probabilities (softmax, sigmoid, or none when the
 *   graph already outputs probabilities).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { Manifest } from './manifest.js';
import { ManifestError } from './manifest.js';
import { createPostprocessor, type Classification } from './postprocess.js';
import { createPreprocessor, type PreprocessLimits } from './preprocess.js';

export type { Classification } from './postprocess.js';

/** Where the time of one classification went, in milliseconds (for the metrics). */
export interface ClassificationTimings {
  /** Decoding, resizing and normalising the image. */
  readonly preprocessMs: number;
  /** The onnxruntime run. */
  readonly inferenceMs: number;
}

/** What the HTTP layer needs from a model. */
export interface Classifier {
  /** Manifest name, for responses and logs. */
  readonly name: string;
  readonly sha256: string;
  readonly labels: readonly string[];
  /** Decodes and classifies one image; rejects with ImageUndecodable / ImageTooLarge on bad input. */
  classify(image: Uint8Array): Promise<Classification & { readonly timings?: ClassificationTimings }>;
  /** Releases the onnxruntime session. */
  close(): Promise<void>;
}

/** onnxruntime session settings. */
export interface SessionOptions {
  /** Threads for one operator; 0 lets onnxruntime choose (one per core). */
  readonly intraOpThreads?: number;
}

/**
 * Loads the ONNX file named by the manifest, verifies its SHA-256, creates the session and checks
 * that the model's input and output match the manifest. Any mismatch throws a ManifestError.
 */
export async function loadClassifier(
  manifest: Manifest,
  limits: PreprocessLimits,
  options: SessionOptions = {},
): Promise<Classifier> {
  let bytes: Buffer;
  try {
    bytes = await readFile(manifest.file);
  } catch (err) {
    throw new ManifestError(manifest.file, [
      `model file cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); run "make model"`,
    ]);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== manifest.sha256) {
    throw new ManifestError(manifest.file, [`SHA-256 is ${actual}, the manifest pins ${manifest.sha256}`]);
  }
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.intraOpThreads ?? 0,
  });
  checkSignature(session, manifest);

  const { input, output } = manifest;
  const dims = input.layout === 'NCHW' ? [1, 3, input.height, input.width] : [1, input.height, input.width, 3];
  const preprocess = createPreprocessor(input, limits);
  const postprocess = createPostprocessor(manifest);

  return {
    name: manifest.name,
    sha256: manifest.sha256,
    labels: manifest.labels,
    async classify(image) {
      const started = performance.now();
      const data = await preprocess(image);
      const preprocessed = performance.now();
      const result = await session.run({ [input.name]: new ort.Tensor('float32', data, dims) });
      const timings = { preprocessMs: preprocessed - started, inferenceMs: performance.now() - preprocessed };
      return { ...postprocess(result[output.name]!.data as Float32Array), timings };
    },
    async close() {
      await session.release();
    },
  };
}

function checkSignature(session: ort.InferenceSession, manifest: Manifest): void {
  const problems: string[] = [];
  const { input, output } = manifest;
  if (!session.inputNames.includes(input.name)) {
    problems.push(`input "${input.name}" not in the model (it has ${session.inputNames.join(', ')})`);
  }
  if (!session.outputNames.includes(output.name)) {
    problems.push(`output "${output.name}" not in the model (it has ${session.outputNames.join(', ')})`);
  }
  const meta = session.inputMetadata.find((m) => m.name === input.name);
  if (meta?.isTensor) {
    const expected = input.layout === 'NCHW' ? [3, input.height, input.width] : [input.height, input.width, 3];
    const actual = meta.shape.slice(1);
    if (meta.shape.length !== 4 || actual.some((d, i) => typeof d === 'number' && d !== expected[i])) {
      problems.push(`input shape [${meta.shape.join(', ')}] does not match ${input.layout} ${input.width}x${input.height}`);
    }
  }
  const outMeta = session.outputMetadata.find((m) => m.name === output.name);
  const classes = manifest.grouping?.classes ?? manifest.labels.length;
  if (outMeta?.isTensor) {
    const last = outMeta.shape.at(-1);
    if (typeof last === 'number' && last !== classes) {
      problems.push(`output has ${last} classes, the manifest expects ${classes}`);
    }
  }
  if (problems.length > 0) throw new ManifestError(manifest.file, problems);
}
