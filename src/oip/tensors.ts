/**
 * A served model as the Open Inference Protocol sees it: its inputs and outputs, from its
 * manifest. Every model of the repository has the same two outputs and takes its images either
 * encoded (`image`) or already as its own input tensor.
 *
 * - `image`: BYTES `[-1]`, each element one encoded image (anything `/upload` accepts).
 * - the manifest's input (e.g. `input`): FP32 `[-1, 3, H, W]` (NCHW) or `[-1, H, W, 3]` (NHWC),
 *   normalised as the manifest says. Not offered when the manifest names it `image`.
 * - `probabilities`: FP32 `[-1, L]`, one row per image in the order of the labels.
 * - `label`: BYTES `[-1]`, the predicted label of each image.
 */
import type { Manifest } from '../model/manifest.js';

/** The protocol's name for the encoded images input. */
export const IMAGE_INPUT = 'image';
/** The outputs every model serves. */
export const OUTPUTS = ['probabilities', 'label'] as const;
/** One of {@link OUTPUTS}. */
export type OutputName = (typeof OUTPUTS)[number];

/** Name, datatype and shape of a tensor, as the protocol's metadata lists it (`-1`: any size). */
export interface TensorMetadata {
  readonly name: string;
  readonly datatype: 'BYTES' | 'FP32';
  readonly shape: readonly number[];
}

/** What a request may send and ask for. */
export interface ModelSignature {
  /** The model's own input, when offered: its name and the dimensions of one image. */
  readonly tensorInput: { readonly name: string; readonly dims: readonly [number, number, number] } | undefined;
  readonly labels: readonly string[];
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

/** The signature of the model a manifest describes. */
export function tensorSignatureOf(manifest: Manifest): ModelSignature {
  const { input, labels } = manifest;
  const dims: [number, number, number] = input.layout === 'NCHW' ? [3, input.height, input.width] : [input.height, input.width, 3];
  const tensorInput = input.name === IMAGE_INPUT ? undefined : { name: input.name, dims };
  return {
    tensorInput,
    labels,
    inputs: [
      { name: IMAGE_INPUT, datatype: 'BYTES', shape: [-1] },
      ...(tensorInput ? [{ name: tensorInput.name, datatype: 'FP32' as const, shape: [-1, ...dims] }] : []),
    ],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, labels.length] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
  };
}
