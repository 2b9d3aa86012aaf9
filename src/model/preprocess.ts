/**
 * Image bytes → input tensor data, as the manifest's `input` describes.
 *
 * sharp decodes (JPEG, PNG, WebP, GIF first frame, TIFF, AVIF), applies the EXIF orientation,
 * flattens transparency onto white, converts to sRGB 8-bit RGB, and resizes with its default
 * Lanczos-3 kernel. The pixel count is read from the header first, so a decompression bomb
 * is refused before any pixel is decoded.
 */
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { ImageTooLarge, ImageUndecodable } from '../errors.js';
import type { Manifest } from './manifest.js';
import { hasSupportedSignature } from './signature.js';

/** Decoding limits, from the configuration. */
export interface PreprocessLimits {
  /** Largest accepted width × height, checked from the header before decoding. */
  readonly maxImagePixels: number;
}

const SUPPORTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

/** Turns bytes into a Float32Array of one image laid out as the model's input expects. */
export type Preprocessor = (image: Uint8Array) => Promise<Float32Array>;

/** Builds the preprocessing function for a model input. */
export function createPreprocessor(input: Manifest['input'], limits: PreprocessLimits): Preprocessor {
  const { width, height, layout, channels, scale, mean, std } = input;
  const plane = width * height;
  // out = (pixel * scale - mean) / std, per channel (RGB order), tabulated once for the 256
  // pixel values: a table lookup is about twice as fast as the arithmetic, and exact.
  const tables = [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = (v * scale - mean[c]!) / std[c]!;
    return table;
  });
  // Destination channel of each RGB source channel.
  const order = channels === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const fit = ({ fill: 'fill', cover: 'cover', contain: 'contain' } as const)[input.resize];

  return async function preprocess(image: Uint8Array): Promise<Float32Array> {
    // Anything else (SVG, PDF, text...) never reaches a libvips loader.
    if (!hasSupportedSignature(image)) {
      throw new ImageUndecodable('The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)');
    }
    let meta: Metadata;
    try {
      // The header alone: sharp's own pixel limit is applied to the decode below, after our
      // check has answered with the dimensions.
      meta = await sharp(image, { limitInputPixels: false }).metadata();
    } catch (err) {
      throw new ImageUndecodable('The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)', err);
    }
    if (!meta.format || !SUPPORTED_FORMATS.has(meta.format)) {
      throw new ImageUndecodable(`Images of format ${meta.format ?? 'unknown'} are not accepted`);
    }
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    if (w * h > limits.maxImagePixels) throw new ImageTooLarge(w, h, limits.maxImagePixels);

    let pixels: Buffer;
    try {
      pixels = await sharp(image, { failOn: 'error', limitInputPixels: limits.maxImagePixels, animated: false })
        .rotate() // EXIF orientation
        .flatten({ background: '#ffffff' })
        .toColourspace('srgb')
        .resize(width, height, { fit, background: '#000000' })
        .removeAlpha()
        .raw({ depth: 'uchar' })
        .toBuffer();
    } catch (err) {
      throw new ImageUndecodable('The image data is corrupt or truncated', err);
    }
    if (pixels.length !== plane * 3) {
      throw new ImageUndecodable(`The image decoded to ${pixels.length} bytes, expected ${plane * 3}`);
    }

    const out = new Float32Array(plane * 3);
    const [t0, t1, t2] = tables as [Float32Array, Float32Array, Float32Array];
    if (layout === 'NCHW') {
      // One pass over the interleaved pixels, writing the three planes.
      const o0 = order[0]! * plane;
      const o1 = order[1]! * plane;
      const o2 = order[2]! * plane;
      for (let i = 0, j = 0; i < plane; i++, j += 3) {
        out[o0 + i] = t0[pixels[j]!]!;
        out[o1 + i] = t1[pixels[j + 1]!]!;
        out[o2 + i] = t2[pixels[j + 2]!]!;
      }
    } else {
      const [d0, d1, d2] = order as [number, number, number];
      for (let j = 0; j < plane * 3; j += 3) {
        out[j + d0] = t0[pixels[j]!]!;
        out[j + d1] = t1[pixels[j + 1]!]!;
        out[j + d2] = t2[pixels[j + 2]!]!;
      }
    }
    return out;
  };
}
