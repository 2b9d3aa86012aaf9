/**
 * Image bytes → input tensor data, as the manifest's `input` describes.
 *
 * The header is read first (`image-header.ts`): bytes that are not an accepted image, too many
 * pixels, too many JPEG scans or too much decode memory are refused before any pixel is decoded.
 * sharp then decodes (JPEG, PNG, WebP, GIF first frame, TIFF, AVIF), applies the EXIF
 * orientation, flattens transparency onto white, converts to sRGB 8-bit RGB, and resizes with
 * its default Lanczos-3 kernel, within `decodeTimeoutSeconds`.
 */
import sharp from 'sharp';
import { ImageTooComplex, ImageUndecodable } from '../../errors.js';
import { inspectImage, type HeaderLimits, type ImageHeader } from './header.js';
import type { Manifest } from '../manifest.js';
import { imageDefaults } from '../defaults.js';
import { createNormaliser } from '../normalise.js';

/** Decoding limits, from the configuration; only `maxImagePixels` has no default. */
export interface PreprocessLimits extends Partial<HeaderLimits> {
  /** Largest accepted width × height, checked from the header before decoding. */
  readonly maxImagePixels: number;
  /** Longest decode and resize of one image, in whole seconds (sharp's `timeout`); default {@link imageDefaults}. */
  readonly decodeTimeoutSeconds?: number;
}

/** The limits with every default filled in. */
export function headerLimits(limits: PreprocessLimits): HeaderLimits {
  return {
    maxImagePixels: limits.maxImagePixels,
    maxJpegScans: limits.maxJpegScans ?? imageDefaults.maxJpegScans,
    maxDecodeBytes: limits.maxDecodeBytes ?? Infinity,
  };
}

// Every upload is a different image: libvips' operation cache would only hold on to memory
// (up to 50 MB of decoded pixels) that the decode budget does not count.
sharp.cache(false);
// One libvips thread per image: the service decodes several images at once on libuv's pool.
// sharp chooses 1 itself under glibc's malloc but one per core under jemalloc (the image's
// allocator), where 1 answered about 1.1 times as many requests as 2 at c=4 and c=16 (one
// interleaved make bench run; docs/runtime-memory.md).
sharp.concurrency(1);

/** Turns bytes into a Float32Array of one image laid out as the model's input expects. */
export type Preprocessor = (image: Uint8Array) => Promise<Float32Array>;

/**
 * Turns bytes into the decoded, resized image: interleaved RGB, 8 bits per channel. Given the
 * image's {@link ImageHeader} (already inspected, as admission needs it), it does not read it again.
 */
export type Decoder = (image: Uint8Array, header?: ImageHeader) => Promise<Uint8Array>;

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
  const checks = headerLimits(limits);
  const timeoutSeconds = limits.decodeTimeoutSeconds ?? imageDefaults.decodeTimeoutSeconds;

  return async function decode(image: Uint8Array, header?: ImageHeader): Promise<Uint8Array> {
    // Inspected by the caller already (admission needs the header), or here.
    if (header === undefined) await inspectImage(image, checks);
    let pixels: Buffer;
    try {
      // limitInputPixels again: the header was read once already, but never trust a second parse blindly.
      pixels = await sharp(image, { failOn: 'error', limitInputPixels: checks.maxImagePixels, animated: false })
        .timeout({ seconds: timeoutSeconds })
        .rotate() // EXIF orientation
        .flatten({ background: '#ffffff' })
        .toColourspace('srgb')
        .resize(width, height, { fit, background: '#000000' })
        .removeAlpha()
        .raw({ depth: 'uchar' })
        .toBuffer();
    } catch (err) {
      // sharp reports its timeout as "timeout: NN% complete".
      if (err instanceof Error && err.message.startsWith('timeout')) {
        throw new ImageTooComplex(`Decoding the image took longer than ${timeoutSeconds} s`, err);
      }
      throw new ImageUndecodable('The image data is corrupt or truncated', err);
    }
    if (pixels.length !== plane * 3) {
      throw new ImageUndecodable(`The image decoded to ${pixels.length} bytes, expected ${plane * 3}`);
    }
    return pixels;
  };
}
