/**
 * A PNG's header, read from its bytes without a decoder: what `header.ts` needs to check an
 * upload and price its decode, as sharp's `metadata()` reports it, at a fraction of the cost
 * (a native call and a trip through libuv's pool per upload, ≈ 0.2 ms of CPU; issue #23).
 *
 * The IHDR chunk gives the size, bit depth, colour type and interlacing; the chunks between it
 * and the first IDAT say whether a `tRNS` chunk adds an alpha channel, as libvips' loader does.
 * Anything out of the ordinary (a wrong CRC, an IHDR the PNG specification forbids, no IDAT)
 * gives `undefined`: the caller then asks sharp, which refuses it or reads it as libpng would.
 */
import { crc32 } from 'node:zlib';
import { startsLikePng } from './format.js';

/** What {@link readPngHeader} found, in sharp's terms. */
export interface PngHeader {
  readonly width: number;
  readonly height: number;
  /** Bands of the decoded image, as sharp reports them: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (alpha from `tRNS` included). */
  readonly channels: number;
  /** 16 for 16-bit samples, else 8 (palette and sub-byte greys decode to 8-bit samples). */
  readonly bitsPerSample: number;
  /** Adam7 interlacing (sharp's `isProgressive`): the whole image is decoded before the first row. */
  readonly interlaced: boolean;
}

const IHDR_END = 8 + 8 + 13 + 4; // signature, length and type, data, CRC
/** The largest width or height the PNG specification allows (2^31 − 1). */
const MAX_DIMENSION = 0x7fffffff;

/** Bit depths allowed per colour type (PNG specification, table 11.1). */
const BIT_DEPTHS: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16], // greyscale
  2: [8, 16], // truecolour
  3: [1, 2, 4, 8], // indexed
  4: [8, 16], // greyscale with alpha
  6: [8, 16], // truecolour with alpha
};
/** Bands each colour type decodes to before any `tRNS`. */
const BANDS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

const chunkType = (bytes: Uint8Array, at: number): string =>
  String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);

/** The header of a PNG, or `undefined` when `bytes` is not a PNG this reader vouches for. */
export function readPngHeader(bytes: Uint8Array): PngHeader | undefined {
  if (bytes.length < IHDR_END || !startsLikePng(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const readUint32 = (at: number): number => view.getUint32(at); // big-endian, as PNG stores them
  if (readUint32(8) !== 13 || chunkType(bytes, 12) !== 'IHDR') return undefined;
  if (crc32(bytes.subarray(12, 29)) !== readUint32(29)) return undefined;
  const width = readUint32(16);
  const height = readUint32(20);
  const bitDepth = bytes[24]!;
  const colourType = bytes[25]!;
  const compression = bytes[26]!;
  const filter = bytes[27]!;
  const interlace = bytes[28]!;
  if (width === 0 || height === 0 || width > MAX_DIMENSION || height > MAX_DIMENSION) return undefined;
  if (!BIT_DEPTHS[colourType]?.includes(bitDepth) || compression !== 0 || filter !== 0 || interlace > 1) return undefined;

  // The chunks before the image data: a tRNS among them gives grey, RGB and indexed images an alpha band.
  let transparency = false;
  let at = IHDR_END;
  for (;;) {
    if (at + 8 > bytes.length) return undefined; // no IDAT: let the decoder say what is wrong
    const length = readUint32(at);
    const type = chunkType(bytes, at + 4);
    if (type === 'IDAT') break;
    if (type === 'tRNS') transparency = true;
    at += 12 + length;
  }
  const alphaFromTransparency = transparency && (colourType === 0 || colourType === 2 || colourType === 3);
  return {
    width,
    height,
    channels: BANDS[colourType]! + (alphaFromTransparency ? 1 : 0),
    bitsPerSample: bitDepth === 16 ? 16 : 8,
    interlaced: interlace === 1,
  };
}
