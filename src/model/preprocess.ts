/**
 * Image bytes → input tensor data, as the manifest's `input` describes.
 *
 * sharp decodes (JPEG, PNG, WebP, GIF first frame, TIFF, AVIF), applies the EXIF orientation,
 * flattens transparency onto white, converts to sRGB 8-bit RGB, and resizes with its default
 * Lanczos-3 kernel. sharp reads the pixel count from the header first, so a decompression bomb
 * is refused before any pixel is decoded; only then is the header read again, for the answer.
 */
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { ImageTooLarge, ImageUndecodable } from '../errors.js';
import type { Manifest } from './manifest.js';
import { createNormaliser } from './normalise.js';
import { hasSupportedSignature } from './signature.js';

/** Decoding limits, from the configuration. */
export interface PreprocessLimits {
  /** Largest accepted width × height, checked from the header before decoding. */
  readonly maxImagePixels: number;
}

const SUPPORTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

/** Turns bytes into a Float32Array of one image laid out as the model's input expects. */
export type Preprocessor = (image: Uint8Array) => Promise<Float32Array>;

/**
 * The error for an image sharp could not decode, from its header alone (only refused uploads pay
 * for this second look): too many pixels, a format we do not accept, or corrupt data.
 */
async function whyUndecodable(image: Uint8Array, limits: PreprocessLimits, cause: unknown): Promise<ImageUndecodable | ImageTooLarge> {
  let meta: Metadata;
  try {
    meta = await sharp(image, { limitInputPixels: false }).metadata();
  } catch (err) {
    return new ImageUndecodable('The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)', err);
  }
  if (!meta.format || !SUPPORTED_FORMATS.has(meta.format)) {
    return new ImageUndecodable(`Images of format ${meta.format ?? 'unknown'} are not accepted`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > limits.maxImagePixels) return new ImageTooLarge(w, h, limits.maxImagePixels);
  return new ImageUndecodable('The image data is corrupt or truncated', cause);
}

/** Turns bytes into the decoded, resized image: interleaved RGB, 8 bits per channel. */
export type Decoder = (image: Uint8Array) => Promise<Uint8Array>;

/** Builds the preprocessing function for a model input: {@link createDecoder} then {@link createNormaliser}. */
export function createPreprocessor(input: Manifest['input'], limits: PreprocessLimits): Preprocessor {
  const decode = createDecoder(input, limits);
  const normalise = createNormaliser(input);
  return async function preprocess(image: Uint8Array): Promise<Float32Array> {
    const out = new Float32Array(input.width * input.height * 3);
    normalise(await decode(image), out, 0);
    return out;
  };
}

/**
 * Builds the decoding half of preprocessing. The classifier sends its output (a quarter of
 * the size of the float tensor) to the inference worker, which normalises into the batch.
 */
export function createDecoder(input: Manifest['input'], limits: PreprocessLimits): Decoder {
  const { width, height } = input;
  const plane = width * height;
  const fit = ({ fill: 'fill', cover: 'cover', contain: 'contain' } as const)[input.resize];

  return async function decode(image: Uint8Array): Promise<Uint8Array> {
    // Anything else (SVG, PDF, text...) never reaches a libvips loader.
    if (!hasSupportedSignature(image)) {
      throw new ImageUndecodable('The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)');
    }
    let pixels: Buffer;
    try {
      // sharp reads the header first and refuses more than `limitInputPixels` before decoding.
      pixels = await sharp(image, { failOn: 'error', limitInputPixels: limits.maxImagePixels, animated: false })
        .rotate() // EXIF orientation
        .flatten({ background: '#ffffff' })
        .toColourspace('srgb')
        .resize(width, height, { fit, background: '#000000' })
        .removeAlpha()
        .raw({ depth: 'uchar' })
        .toBuffer();
    } catch (err) {
      throw await whyUndecodable(image, limits, err);
    }
    if (pixels.length !== plane * 3) {
      throw new ImageUndecodable(`The image decoded to ${pixels.length} bytes, expected ${plane * 3}`);
    }
    return pixels;
  };
}
