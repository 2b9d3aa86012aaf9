/**
 * Recognises the image formats the service accepts from their first bytes, before any decoder
 * sees them. sharp would otherwise hand every buffer to whichever libvips loader claims it —
 * SVG (librsvg and its XML parser), PDF, matrix and raw formats included — even though
 * `preprocess.ts` refuses those formats right after reading their header.
 */

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

/** Whether `bytes` starts with the PNG signature. */
export function startsLikePng(bytes: Uint8Array): boolean {
  return startsWith(bytes, PNG);
}

/**
 * Whether `bytes` starts like a JPEG, PNG, GIF, WebP, TIFF or HEIF/AVIF file. A `true` answer
 * only means the decoder may try; the decoder still refuses corrupt data.
 */
export function hasSupportedSignature(bytes: Uint8Array): boolean {
  return (
    startsWith(bytes, [0xff, 0xd8, 0xff]) // JPEG SOI + first marker
    || startsLikePng(bytes)
    || startsWith(bytes, ascii('GIF87a'))
    || startsWith(bytes, ascii('GIF89a'))
    || (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8))
    || startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) // TIFF little-endian
    || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]) // TIFF big-endian
    || startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) // BigTIFF little-endian
    || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b]) // BigTIFF big-endian
    || startsWith(bytes, ascii('ftyp'), 4) // ISO-BMFF: HEIF, AVIF (the brand is checked by the decoder)
  );
}

/**
 * The media type of an accepted image from its first bytes (`image/jpeg`…), for serving it back
 * as received; `undefined` for bytes {@link hasSupportedSignature} would refuse.
 */
export function imageMediaType(bytes: Uint8Array): string | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsLikePng(bytes)) return 'image/png';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp';
  if ([[0x49, 0x49, 0x2a, 0x00], [0x4d, 0x4d, 0x00, 0x2a], [0x49, 0x49, 0x2b, 0x00], [0x4d, 0x4d, 0x00, 0x2b]].some((p) => startsWith(bytes, p))) return 'image/tiff';
  if (startsWith(bytes, ascii('ftyp'), 4)) return startsWith(bytes, ascii('avi'), 8) ? 'image/avif' : 'image/heif';
  return undefined;
}
