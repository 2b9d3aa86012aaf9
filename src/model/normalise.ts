/**
 * Decoded pixels → model input values: `(p * scale - mean) / std` per channel, in the
 * manifest's channel order and layout. Apart from sharp so that inference workers can
 * normalise straight into the batch tensor without loading an image library.
 */
import type { Manifest } from './manifest.js';

/**
 * Writes one image's model input into `out` from `offset` on. `pixels` is the decoded image,
 * interleaved RGB, 8 bits per channel, `width × height × 3` bytes.
 */
export type Normaliser = (pixels: Uint8Array, out: Float32Array, offset: number) => void;

/** Builds the normalisation of a model input. */
export function createNormaliser(input: Manifest['input']): Normaliser {
  const { width, height, layout, channels, scale, mean, std } = input;
  const plane = width * height;
  // Tabulated once for the 256 pixel values: a table lookup is about twice as fast as the
  // arithmetic, and gives the same float32 values.
  const [t0, t1, t2] = [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = (v * scale - mean[c]!) / std[c]!;
    return table;
  }) as [Float32Array, Float32Array, Float32Array];
  // Destination channel of each RGB source channel.
  const [d0, d1, d2] = (channels === 'RGB' ? [0, 1, 2] : [2, 1, 0]);

  if (layout === 'NCHW') {
    return (pixels, out, offset) => {
      // One pass over the interleaved pixels, writing the three planes.
      const o0 = offset + d0 * plane;
      const o1 = offset + d1 * plane;
      const o2 = offset + d2 * plane;
      for (let i = 0, j = 0; i < plane; i++, j += 3) {
        out[o0 + i] = t0[pixels[j]!]!;
        out[o1 + i] = t1[pixels[j + 1]!]!;
        out[o2 + i] = t2[pixels[j + 2]!]!;
      }
    };
  }
  return (pixels, out, offset) => {
    for (let j = 0; j < plane * 3; j += 3) {
      out[offset + j + d0] = t0[pixels[j]!]!;
      out[offset + j + d1] = t1[pixels[j + 1]!]!;
      out[offset + j + d2] = t2[pixels[j + 2]!]!;
    }
  };
}
