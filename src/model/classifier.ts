/**
 * The classifier: onnxruntime sessions created once at start-up (in worker threads, see
 * `engine/`), fed by a micro-batcher (`batcher.ts`), behind preprocessing and
 * postprocessing built from the model's manifest.
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
import { Batcher } from './batcher.js';
import { classifierDefaults } from './defaults.js';
import { createInferenceEngine } from './engine/create.js';
import type { EngineHealth, EngineInput, SessionOptions, SessionSignature } from './engine/types.js';
import { prepareInt8Weights, type Int8WeightsForm, type Int8WeightsSetting } from './int8/kernels.js';
import { explain, type ExplainOptions, type Explanation } from './explain/explain.js';
import type { Manifest } from './manifest.js';
import { ManifestError } from './manifest.js';
import { createPostprocessor, type Classification } from './postprocess.js';
import type { ImageHeader } from './image/header.js';
import { inspectImage } from './image/header.js';
import { createDecoder, headerLimits, type PreprocessLimits } from './image/preprocess.js';
import { imageThreads } from './image-threads.js';

export type { Classification } from './postprocess.js';
export type { ExplainOptions, Explanation } from './explain/explain.js';
export type { ImageHeader } from './image/header.js';

/** Where the time of one classification went, in milliseconds (for the metrics). */
export interface ClassificationTimings {
  /** Decoding and resizing the image. */
  readonly preprocessMs: number;
  /** Normalising and the onnxruntime run, including the wait for a free worker and the batch's other images. */
  readonly inferenceMs: number;
}

/** What the HTTP layer needs from a model. */
export interface Classifier {
  /** Manifest name, for responses and logs. */
  readonly name: string;
  readonly sha256: string;
  readonly labels: readonly string[];
  /** How the model's int8 weights were handed to onnxruntime (`none`: it has none). */
  readonly int8Weights: Int8WeightsForm;
  /** Whether forward passes can run: see `InferenceEngine.health` (engine/types.ts). */
  readonly health: () => EngineHealth;
  /** Resolves with the reason when the model can no longer run (the process should exit). */
  readonly failed: Promise<Error>;
  /**
   * Reads an image's header: format, size and the memory its decode will need. Rejects with
   * ImageUndecodable / ImageTooLarge / ImageTooComplex what can be refused without decoding.
   * `client` says whose image it is: libuv's threads take their clients' calls in turn
   * (`image-threads.ts`).
   */
  inspect(image: Uint8Array, client?: string): Promise<ImageHeader>;
  /**
   * Decodes and classifies one image; rejects with ImageUndecodable / ImageTooLarge /
   * ImageTooComplex on bad input. Pass the header {@link Classifier.inspect} returned to spare a
   * second reading; without it, the image is inspected here. `client` says whose image it is: the
   * decodes and the batches take their clients' images in turn (`image-threads.ts`, `batcher.ts`).
   */
  classify(image: Uint8Array, header?: ImageHeader, client?: string): Promise<Classification & { readonly timings?: ClassificationTimings }>;
  /**
   * Classifies one image that the client decoded, resized and normalised itself: `row` is the
   * model's input for one image, `3 × width × height` float32 values in the manifest's layout and
   * channel order. It joins the same batches as decoded images.
   *
   * @throws RangeError when `row` does not have that length (the caller checks it against the manifest).
   */
  classifyTensor(row: Float32Array, client?: string): Promise<Classification>;
  /**
   * Classifies `image` and explains the answer by occlusion sensitivity (`explain.ts`): decoded
   * once, the image and its masked copies go through the same batcher at low priority, so that
   * uploads go first. Rejects like {@link Classifier.classify} on a bad image.
   */
  explain(image: Uint8Array, options: ExplainOptions): Promise<Explanation>;
  /** Releases the onnxruntime session. */
  close(): Promise<void>;
}

/** How the classifier runs the model; every field has a default. */
export interface ClassifierOptions extends SessionOptions {
  /**
   * Worker threads, each with its own session, that run the forward passes off the event
   * loop; 0 runs them on the event loop. Default 1.
   */
  readonly workers?: number;
  /**
   * Most images in one forward pass (requests that arrive while the model is busy are
   * batched); 1 disables batching; a model with a fixed batch dimension of 1 forces 1. Default 8.
   */
  readonly batchMaxSize?: number;
  /** Longest wait, in milliseconds, for more images when the model is idle. Default 0. */
  readonly batchMaxWaitMs?: number;
  /** Signed int8 weights as they are, re-typed as uint8, or chosen by the CPU (see `int8/kernels.ts`). Default `auto`. */
  readonly int8Weights?: Int8WeightsSetting;
}

/**
 * Loads the ONNX file named by the manifest and creates its classifier ({@link createClassifier}).
 * The model repository reads the file itself, within its bounds (`src/repository/version-files.ts`).
 */
export async function loadClassifier(
  manifest: Manifest,
  limits: PreprocessLimits,
  options: ClassifierOptions = {},
): Promise<Classifier> {
  let bytes: Buffer;
  try {
    bytes = await readFile(manifest.file);
  } catch (err) {
    throw new ManifestError(
      'model-unreadable',
      manifest.file,
      [`model file cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); run "make model"`],
      { cause: err },
    );
  }
  return createClassifier(manifest, bytes, limits, options);
}

/**
 * Creates the classifier of `manifest` from the model's `bytes`: verifies their SHA-256, hands
 * the int8 weights to onnxruntime as `int8Weights` says, creates the sessions and checks that the
 * model's input and output match the manifest. Any mismatch throws a ManifestError.
 */
export async function createClassifier(
  manifest: Manifest,
  bytes: Uint8Array,
  limits: PreprocessLimits,
  options: ClassifierOptions = {},
): Promise<Classifier> {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== manifest.sha256) {
    throw new ManifestError('model-checksum-mismatch', manifest.file, [`SHA-256 is ${actual}, the manifest pins ${manifest.sha256}`]);
  }
  const settings = { ...classifierDefaults, ...options };
  const { input, output } = manifest;
  let engine;
  let prepared;
  try {
    prepared = prepareInt8Weights(bytes, settings.int8Weights);
    engine = await createInferenceEngine(prepared.bytes, { input, outputName: output.name }, settings, settings.workers);
  } catch (err) {
    throw new ManifestError('model-unloadable', manifest.file, [`onnxruntime cannot load the model: ${(err as Error).message}`], {
      cause: err,
    });
  }
  try {
    checkSignature(engine, manifest);
  } catch (err) {
    await engine.close();
    throw err;
  }

  // A model exported with a fixed batch dimension takes one image per pass.
  const batchDim = engine.inputMetadata.find((m) => m.name === input.name)?.shape[0];
  const maxBatchSize = typeof batchDim === 'number' ? 1 : settings.batchMaxSize;
  const decode = createDecoder(input, limits);
  const checks = headerLimits(limits);
  const postprocess = createPostprocessor(manifest);

  // Decoded uploads, which nothing reads once their batch has them (an explanation's images are
  // read again): the engine may free them as soon as it has its copy.
  const disposable = new WeakSet<EngineInput>();
  const batcher = new Batcher<EngineInput, Float32Array>(
    async (images) => {
      const logits = await engine.run(images, images.filter((image) => disposable.has(image)));
      const classes = logits.length / images.length;
      return images.map((_, i) => logits.subarray(i * classes, (i + 1) * classes));
    },
    {
      maxBatchSize,
      // An explanation's images go in small batches when no upload waits (batcher.ts).
      maxLowBatchSize: Math.max(1, Math.floor(maxBatchSize / 4)),
      maxWaitMs: settings.batchMaxWaitMs,
      slots: engine.slots,
    },
  );

  return {
    name: manifest.name,
    sha256: manifest.sha256,
    labels: manifest.labels,
    int8Weights: prepared.int8Weights,
    health: () => engine.health,
    failed: engine.failed,
    inspect: (image, client) => imageThreads.run(client, () => inspectImage(image, checks)),
    async classify(image, header, client) {
      const started = performance.now();
      // Undecodable images fail here, alone, before they could join a batch.
      const pixels = await imageThreads.run(client, () => decode(image, header));
      disposable.add(pixels);
      const preprocessed = performance.now();
      const row = await batcher.submit(pixels, 'high', client);
      const timings = { preprocessMs: preprocessed - started, inferenceMs: performance.now() - preprocessed };
      return { ...postprocess(row), timings };
    },
    async classifyTensor(row, client) {
      const expected = 3 * input.width * input.height;
      if (row.length !== expected) throw new RangeError(`a row of ${input.name} has ${expected} values, not ${row.length}`);
      return postprocess(await batcher.submit(row, 'high', client));
    },
    explain(image, options) {
      return explain(
        {
          input,
          decode,
          threads: (task) => imageThreads.run(options.client, task),
          submit: (pixels, priority) => batcher.submit(pixels, priority, options.client),
          postprocess,
          wave: maxBatchSize * engine.slots,
        },
        image,
        options,
      );
    },
    async close() {
      await engine.close();
    },
  };
}

function checkSignature(session: SessionSignature, manifest: Manifest): void {
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
  if (problems.length > 0) throw new ManifestError('model-mismatch', manifest.file, problems);
}
