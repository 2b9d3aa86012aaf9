/**
 * Feature extraction for training: the served preprocessing (so training sees exactly what the
 * service will feed the model), the backbone, and optional horizontal-flip augmentation.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { Manifest } from '../../src/model/manifest.js';
import { createPreprocessor } from '../../src/model/image/preprocess.js';
import { FEATURES_OUTPUT } from './backbone.js';

/** Features of one image: the image itself and, when asked, its mirror image. */
export interface ImageFeatures {
  readonly original: Float32Array;
  readonly flipped?: Float32Array;
}

/** Mirrors an NCHW (one image, C×H×W) tensor left–right. */
export function flipHorizontal(chw: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(chw.length);
  const planes = chw.length / (width * height);
  for (let row = 0; row < planes * height; row++) {
    const base = row * width;
    for (let x = 0; x < width; x++) out[base + x] = chw[base + width - 1 - x]!;
  }
  return out;
}

/** Options of {@link extractFeatures}. */
export interface ExtractOptions {
  /** The model input the features are computed for (size, layout NCHW, normalisation, resize). */
  readonly input: Manifest['input'];
  /** Also compute the features of each mirrored image. */
  readonly flip: boolean;
  /** Called after each image (progress). */
  readonly onImage?: (done: number, total: number) => void;
}

/**
 * Runs the feature extractor (an ONNX model with output {@link FEATURES_OUTPUT}) over image
 * files, one image at a time, in order.
 */
export async function extractFeatures(extractor: Uint8Array, files: readonly string[], options: ExtractOptions): Promise<ImageFeatures[]> {
  const { input } = options;
  if (input.layout !== 'NCHW') throw new TypeError('feature extraction expects an NCHW backbone');
  const preprocess = createPreprocessor(input, { maxImagePixels: 100_000_000 });
  const session = await ort.InferenceSession.create(extractor, { logSeverityLevel: 3 });
  const dims = [1, 3, input.height, input.width];
  const run = async (x: Float32Array): Promise<Float32Array> => {
    const result = await session.run({ [input.name]: new ort.Tensor('float32', x, dims) });
    return Float32Array.from(result[FEATURES_OUTPUT]!.data as Float32Array);
  };
  const out: ImageFeatures[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const x = await preprocess(await readFile(file));
      const original = await run(x);
      out.push(options.flip ? { original, flipped: await run(flipHorizontal(x, input.width, input.height)) } : { original });
      options.onImage?.(i + 1, files.length);
    }
  } finally {
    await session.release();
  }
  return out;
}
