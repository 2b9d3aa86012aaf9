/**
 * Explaining a classification by occlusion sensitivity (`occlusion.ts`), with the classifier's
 * own pipeline: the photo is decoded once by the same decoder as an upload (so the explained
 * answer is the upload's answer), and the unmasked image and each masked copy go through the
 * same micro-batcher, at low priority (uploads waiting go first), a few batches at a time (so
 * that a client who hangs up stops the work within a batch).
 */
import sharp from 'sharp';
import type { Priority } from '../batcher.js';
import type { ImageHeader } from '../image/header.js';
import type { Manifest } from '../manifest.js';
import { coverage, heatmap, occlude, occlusionWindows, passesOf, type Coverage, type Grid } from './occlusion.js';
import type { Classification } from '../postprocess.js';

/** What the explanation needs from the classifier. */
export interface ExplainPipeline {
  readonly input: Manifest['input'];
  /** The classifier's decoder: bytes → interleaved RGB of the model's input size. */
  readonly decode: (image: Uint8Array, header?: ImageHeader) => Promise<Uint8Array>;
  /** Runs a sharp call on libuv's threads in the client's turn (`image-threads.ts`); default: at once. */
  readonly threads?: <T>(task: () => Promise<T>) => Promise<T>;
  /** Sends one decoded image through the batcher. */
  readonly submit: (pixels: Uint8Array, priority: Priority) => Promise<Float32Array>;
  readonly postprocess: (row: Float32Array) => Classification;
  /** Images sent at once: a batch for each inference slot. */
  readonly wave: number;
}

/** Options of one explanation. */
export interface ExplainOptions {
  readonly grid: Grid;
  /** Aborted when the client has gone: no further wave is sent. */
  readonly signal?: AbortSignal;
  /** Whose explanation it is: the batches take their clients' images in turn. */
  readonly client?: string;
  /** The image's header, as `Classifier.inspect` read it; without it the image is inspected here. */
  readonly header?: ImageHeader;
  /**
   * Runs the decode: the service passes its uploads' admission gate, so that an explanation's
   * decode counts against the decode memory budget like an upload's. Default: runs it at once.
   */
  readonly decoding?: <T>(decode: () => Promise<T>) => Promise<T>;
}

/** A classification and where it comes from. */
export interface Explanation extends Classification {
  /** Drops of the predicted label's probability, `grid.rows` rows of `grid.cols`. */
  readonly heatmap: number[][];
  readonly grid: Grid;
  /** Where the grid lies on the photo. */
  readonly region: Coverage;
  /** Forward passes run. */
  readonly passes: number;
}

/**
 * How strongly the hidden windows are blurred (Gaussian sigma, in pixels of the model's input).
 * A blurred copy, rather than a grey square, hides the details (fur, ears, eyes) without adding
 * an edge or a colour the photo does not have: on a plain background hiding changes nothing.
 */
const blurSigma = 12;

/** The featureless copy the windows are taken from. */
async function blurred(pixels: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  return sharp(pixels, { raw: { width, height, channels: 3 } }).blur(blurSigma).removeAlpha().raw().toBuffer();
}

/** Width and height of the photo as shown (EXIF orientation applied). */
async function photoSize(image: Uint8Array): Promise<{ width: number; height: number }> {
  // Only the header: the photo has just been decoded successfully.
  const meta = await sharp(image, { limitInputPixels: false }).metadata();
  return meta.autoOrient;
}

/** Explains the classification of `image`; rejects like `classify` on a bad image, or with the signal's reason. */
export async function explain(pipeline: ExplainPipeline, image: Uint8Array, options: ExplainOptions): Promise<Explanation> {
  const { input } = pipeline;
  const { grid, signal } = options;
  const decoding = options.decoding ?? (<T>(decode: () => Promise<T>): Promise<T> => decode());
  const threads = pipeline.threads ?? (<T>(task: () => Promise<T>): Promise<T> => task());
  const pixels = await decoding(() => threads(() => pipeline.decode(image, options.header)));
  const [fill, size] = await Promise.all([threads(() => blurred(pixels, input.width, input.height)), threads(() => photoSize(image))]);
  const masked = occlusionWindows(input.width, input.height, grid).map((w) => occlude(pixels, fill, input.width, w));

  const rows: Float32Array[] = [];
  const all = [pixels, ...masked];
  for (let start = 0; start < all.length; start += pipeline.wave) {
    signal?.throwIfAborted();
    rows.push(...(await Promise.all(all.slice(start, start + pipeline.wave).map((p) => pipeline.submit(p, 'low')))));
  }
  const [first, ...rest] = rows.map(pipeline.postprocess);
  const answer = first!;
  const label = answer.labels.indexOf(answer.prediction);
  return {
    ...answer,
    heatmap: heatmap(answer.values[label]!, rest.map((c) => c.values[label]!), grid),
    grid,
    region: coverage(size.width, size.height, input.width, input.height, input.resize),
    passes: passesOf(grid),
  };
}
