/**
 * One onnxruntime session, as both forms of the engine use it: its options, its signature as
 * plain data, and the function that runs one batch of decoded images on it.
 */
import * as ort from 'onnxruntime-node';
import { createNormaliser } from '../normalise.js';
import type { EngineInput, ModelIO, SessionOptions, SessionSignature, ValueMetadata } from './types.js';

/**
 * Builds the function that runs one batch on `session`: normalises the decoded images into a
 * batch tensor, and copies the rows that come normalised already (one buffer per batch size,
 * reused: a session runs one pass at a time), and returns the output rows.
 */
export function batchRunner(
  session: ort.InferenceSession,
  io: ModelIO,
): (images: readonly EngineInput[]) => Promise<Float32Array> {
  const { input, outputName } = io;
  const normalise = createNormaliser(input);
  const imageSize = 3 * input.width * input.height;
  const imageDims = input.layout === 'NCHW' ? [3, input.height, input.width] : [input.height, input.width, 3];
  const buffers = new Map<number, Float32Array>();
  return async (images) => {
    const n = images.length;
    let data = buffers.get(n);
    if (!data) buffers.set(n, (data = new Float32Array(n * imageSize)));
    images.forEach((image, i) => {
      if (image instanceof Float32Array) data.set(image, i * imageSize);
      else normalise(image, data, i * imageSize);
    });
    const result = await session.run({ [input.name]: new ort.Tensor('float32', data, [n, ...imageDims]) });
    // Checked against the manifest at load time (classifier.ts), so this is onnxruntime's fault.
    const output = result[outputName];
    if (!output) throw new Error(`onnxruntime returned no output "${outputName}"`);
    // A copy of the (small) output: onnxruntime may own the original buffer.
    return (output.data as Float32Array).slice();
  };
}

/** Translates our settings into onnxruntime's. */
export function ortSessionOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    executionMode: options.executionMode ?? 'sequential',
    intraOpNumThreads: options.intraOpThreads ?? 0,
    interOpNumThreads: options.interOpThreads ?? 0,
    ...(options.allowSpinning === false
      ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
      : {}),
  };
}

/** The signature as plain data (it crosses the worker boundary). */
export function signatureOf(session: ort.InferenceSession): SessionSignature {
  const plain = (m: ort.InferenceSession.ValueMetadata): ValueMetadata => ({
    name: m.name,
    isTensor: m.isTensor,
    shape: m.isTensor ? [...m.shape] : [],
  });
  return {
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata.map(plain),
    outputMetadata: session.outputMetadata.map(plain),
  };
}
