/**
 * What an upload is, from its header alone, before any pixel is decoded: its format and size,
 * and what decoding it will cost. Everything that can be refused without decoding is refused
 * here, in milliseconds: bytes that are not an accepted image, formats we do not take, too many
 * pixels, a progressive JPEG with too many scans, a decode that would need more memory than one
 * image may use.
 *
 * PNG and JPEG headers are read here (`png-header.ts`, `jpeg-structure.ts`); other formats, and
 * PNGs or JPEGs those readers do not vouch for, through sharp's `metadata()`.
 */
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { ImageTooComplex, ImageTooLarge, ImageUndecodable } from '../../errors.js';
import { estimateDecodeBytes, isSimpleLossyWebp } from './decode-cost.js';
import { readJpegStructure, type JpegStructure } from './jpeg-structure.js';
import { hasSupportedSignature } from './format.js';
import { readPngHeader } from './png-header.js';

/** Limits checked from the header; the configuration provides them. */
export interface HeaderLimits {
  /** Largest accepted width × height (`MAX_IMAGE_PIXELS`). */
  readonly maxImagePixels: number;
  /** Most scans in a progressive JPEG (`JPEG_MAX_SCANS`). */
  readonly maxJpegScans: number;
  /** Most memory one decode may need, by its estimate; `Infinity` for no limit. */
  readonly maxDecodeBytes: number;
}

/** An upload that passed every check of its header. */
export interface ImageHeader {
  /** sharp's format name: `jpeg`, `png`, `webp`, `gif`, `tiff`, `heif`. */
  readonly format: string;
  readonly width: number;
  readonly height: number;
  /** Estimated peak memory of its decode ({@link estimateDecodeBytes}), in bytes. */
  readonly decodeBytes: number;
}

const SUPPORTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

const NOT_AN_IMAGE = 'The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)';

/** What the checks read from a header, in sharp's terms (its `metadata()` fields of the same names). */
interface HeaderFields {
  readonly format: string | undefined;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly bitsPerSample: number;
  /** Interlaced PNG, progressive JPEG. */
  readonly isProgressive: boolean;
  /** HEIF's codec: `av1` for AVIF. */
  readonly compression?: string | undefined;
}

/** How the client is told the format: AVIF rather than sharp's `heif`, and which JPEG. */
function formatLabel(meta: HeaderFields, jpeg: JpegStructure | undefined): string {
  if (meta.format === 'heif') return meta.compression === 'av1' ? 'AVIF' : 'HEIF';
  if (meta.format === 'jpeg') return jpeg?.progressive ? 'progressive JPEG' : 'JPEG';
  if (meta.format === 'png' && meta.isProgressive) return 'interlaced PNG';
  return meta.format === 'webp' ? 'WebP' : (meta.format ?? 'unknown').toUpperCase();
}

/**
 * The header fields of a PNG or JPEG read without a decoder, or `undefined` when sharp must read
 * them (another format, or a PNG or JPEG header our readers do not vouch for).
 */
function ownHeaderFields(bytes: Uint8Array, jpeg: JpegStructure | undefined): HeaderFields | undefined {
  if (jpeg) {
    // A frame header with a size and components: sharp reports the same (libjpeg reads the same SOF).
    const { width, height, components, progressive } = jpeg;
    if (width === 0 || height === 0 || components.length === 0) return undefined;
    return { format: 'jpeg', width, height, channels: components.length, bitsPerSample: 8, isProgressive: progressive };
  }
  const png = readPngHeader(bytes);
  if (!png) return undefined;
  const { width, height, channels, bitsPerSample, interlaced } = png;
  return { format: 'png', width, height, channels, bitsPerSample, isProgressive: interlaced };
}

async function sharpHeaderFields(bytes: Uint8Array): Promise<HeaderFields> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageUndecodable(NOT_AN_IMAGE, err);
  }
  return {
    format: meta.format,
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    channels: meta.channels ?? 3,
    bitsPerSample: meta.bitsPerSample ?? 8,
    isProgressive: meta.isProgressive ?? false,
    compression: meta.compression,
  };
}

/**
 * Reads the header of `bytes` and checks it against `limits`.
 * @throws {@link ImageUndecodable}, {@link ImageTooLarge} or {@link ImageTooComplex}.
 */
export async function inspectImage(bytes: Uint8Array, limits: HeaderLimits): Promise<ImageHeader> {
  // Anything else (SVG, PDF, text...) never reaches a libvips loader.
  if (!hasSupportedSignature(bytes)) throw new ImageUndecodable(NOT_AN_IMAGE);
  let jpeg: JpegStructure | undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    jpeg = readJpegStructure(bytes, limits.maxJpegScans);
    if (jpeg.scans > limits.maxJpegScans) {
      throw new ImageTooComplex(
        `The JPEG has more than ${limits.maxJpegScans} scans; each scan is a pass over the whole image `
        + '(encoders write 10 or fewer): re-encode it',
      );
    }
  }
  const meta = ownHeaderFields(bytes, jpeg) ?? (await sharpHeaderFields(bytes));
  if (!meta.format || !SUPPORTED_FORMATS.has(meta.format)) {
    throw new ImageUndecodable(`Images of format ${meta.format ?? 'unknown'} are not accepted`);
  }
  const { width, height } = meta;
  if (width * height > limits.maxImagePixels) {
    throw new ImageTooLarge(width, height, { maxPixels: limits.maxImagePixels });
  }
  const decodeBytes = estimateDecodeBytes({
    format: meta.format,
    width,
    height,
    channels: meta.channels,
    bitsPerSample: meta.bitsPerSample,
    interlaced: meta.isProgressive,
    jpeg,
    lossyWebp: meta.format === 'webp' && isSimpleLossyWebp(bytes),
  });
  if (decodeBytes > limits.maxDecodeBytes) {
    throw new ImageTooLarge(width, height, {
      format: formatLabel(meta, jpeg),
      decodeBytes,
      maxDecodeBytes: limits.maxDecodeBytes,
    });
  }
  return { format: meta.format, width, height, decodeBytes };
}
