/**
 * How much memory decoding an image will take, estimated from its header before any pixel is
 * decoded, so that admission can count it against the decode memory budget.
 *
 * The factors are peak resident memory measured per decoded pixel with this service's pipeline
 * (sharp 0.35, libvips 8.18, resize to a 224 × 224 model input), one image at a time, rounded up:
 *
 * | image | measured, MiB per megapixel | estimate, bytes per pixel |
 * | --- | --- | --- |
 * | baseline JPEG (shrink-on-load: decoded at 1/8 of its size) | 0.19 | 0.5 |
 * | progressive JPEG (libjpeg keeps every coefficient of the whole frame) | 3.05 (4:2:0), 5.91 (4:4:4) | coefficients × 1.15 |
 * | PNG, TIFF (decoded row by row) | 1.27 – 1.44 | 1.5 per 8-bit RGB pixel, scaled by channels and bit depth |
 * | interlaced PNG (the whole image) | 3.74 | 4 per 8-bit RGB pixel, scaled likewise |
 * | lossy WebP (shrink-on-load) | 0.09 | 0.5 |
 * | lossless or extended WebP (RGBA, the whole image) | 3.88 | 4.5 |
 * | GIF (one frame, RGBA) | 5.07 | 5.5 |
 * | AVIF / HEIF 8-bit (libheif and the AV1 decoder hold several full-size planes) | 14.7 – 17.6 | 19 |
 * | AVIF / HEIF 10- or 12-bit | 24.6 | 27 |
 *
 * Each decode also gets {@link DECODE_OVERHEAD_BYTES}. Formats that decode whole frames cost
 * 10 to 200 times more than those libvips can shrink while decoding: an 8-bit AVIF of
 * 6000 × 6000 needs about 650 MiB, a baseline JPEG of the same size about 20 MiB.
 */
import type { JpegStructure } from './jpeg-structure.js';
import { progressiveCoefficientBytes } from './jpeg-structure.js';

/** What the estimate reads from the header (sharp's metadata, and our own JPEG walk). */
export interface DecodeCostInput {
  /** sharp's format name: `jpeg`, `png`, `webp`, `gif`, `tiff`, `heif`. */
  readonly format: string;
  readonly width: number;
  readonly height: number;
  /** Channels of the decoded image (3 for RGB, 4 with alpha). */
  readonly channels: number;
  /** Bits per sample (8 or 16; 10 and 12 for some AVIF). */
  readonly bitsPerSample: number;
  /** Interlaced PNG (sharp's `isProgressive`). */
  readonly interlaced: boolean;
  /** For JPEG: the marker walk (progressive frames cost their coefficients). */
  readonly jpeg?: JpegStructure | undefined;
  /** For WebP: a simple lossy file (`VP8 ` chunk), which libwebp shrinks while decoding. */
  readonly lossyWebp?: boolean;
}

const MiB = 1024 * 1024;

/**
 * Above this estimate a decode is large: it runs in the large lane of admission, at most
 * `MAX_LARGE_DECODES` at once. That is an 8-bit AVIF over about 1.5 megapixels, a GIF over 5,
 * an interlaced PNG over 7, a progressive 4:2:0 JPEG over 8, a PNG over 19; a baseline JPEG never.
 */
export const LARGE_DECODE_BYTES = 32 * MiB;

/** Of the decode memory budget, what large decodes leave to the others: two of the largest ordinary ones. */
export const ORDINARY_DECODE_RESERVE_BYTES = 2 * LARGE_DECODE_BYTES;

/**
 * The largest decode a memory budget admits: large decodes leave {@link ORDINARY_DECODE_RESERVE_BYTES}
 * to the others, so the header inspection refuses costlier images with 413. `Infinity` for no budget (0).
 */
export function largestDecodeBytes(memoryBudgetBytes: number): number {
  return memoryBudgetBytes > 0 ? memoryBudgetBytes - ORDINARY_DECODE_RESERVE_BYTES : Infinity;
}

/** Thread buffers, the resized output and libvips' bookkeeping of one decode. */
const DECODE_OVERHEAD_BYTES = 4 * MiB;

/** Estimated peak memory of decoding one image, in bytes. */
export function estimateDecodeBytes(input: DecodeCostInput): number {
  const pixels = input.width * input.height;
  const bytesPerSample = Math.max(1, Math.ceil(input.bitsPerSample / 8));
  // Relative to the 8-bit RGB image the factors were measured on.
  const sampleScale = (Math.max(3, input.channels) / 3) * bytesPerSample;
  let bytes: number;
  switch (input.format) {
    case 'jpeg':
      bytes = input.jpeg?.progressive
        ? progressiveCoefficientBytes(input.jpeg) * 1.15
        : pixels * 0.5;
      break;
    case 'png':
      bytes = pixels * (input.interlaced ? 4 : 1.5) * sampleScale;
      break;
    case 'tiff':
      bytes = pixels * 1.5 * sampleScale;
      break;
    case 'webp':
      bytes = pixels * (input.lossyWebp ? 0.5 : 4.5);
      break;
    case 'gif':
      bytes = pixels * 5.5;
      break;
    case 'heif':
      bytes = pixels * (input.bitsPerSample > 8 ? 27 : 19) * (Math.max(3, input.channels) / 3);
      break;
    default:
      // Unknown to this table: as costly as the costliest.
      bytes = pixels * 27;
  }
  return Math.ceil(bytes) + DECODE_OVERHEAD_BYTES;
}

/** Whether a WebP file is a simple lossy one: its first chunk, after `RIFF....WEBP`, is `VP8 `. */
export function isSimpleLossyWebp(bytes: Uint8Array): boolean {
  return bytes.length >= 16 && bytes[12] === 0x56 && bytes[13] === 0x50 && bytes[14] === 0x38 && bytes[15] === 0x20;
}
