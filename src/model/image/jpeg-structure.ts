/**
 * The marker structure of a JPEG file, read the way libjpeg reads it (`jdmarker.c`), without
 * decoding anything: how many scans it has and what its frame header declares.
 *
 * Why: libjpeg decodes every scan of a progressive JPEG over every block of the image before it
 * returns the first row, whatever the scan holds. A 190 KB file of 6000 × 6000 pixels and 2,000
 * empty scans keeps a decoder thread busy for about 10 s, and sharp's `timeout` cannot interrupt
 * it (libvips only checks it between rows). Counting the scans first costs a few milliseconds.
 *
 * The walk mirrors libjpeg's marker reader so that no scan can hide from it: after SOI, bytes up
 * to the next 0xFF are skipped (libjpeg skips them as entropy-coded data or as "extraneous bytes
 * before marker"), 0xFF fill bytes are skipped, `FF 00` is data, RSTn and TEM stand alone, EOI
 * ends the image, and every other marker is followed by a big-endian length that covers its
 * segment (APPn segments, with their EXIF thumbnails, are skipped whole, as libjpeg does).
 */

/** One component of the frame header (SOFn): its sampling factors. */
export interface JpegComponent {
  readonly horizontalSampling: number;
  readonly verticalSampling: number;
}

/** What the walk found. */
export interface JpegStructure {
  /** SOS markers before EOI (or the end of the data); counting stops at `maxScans + 1`. */
  readonly scans: number;
  /** Whether the frame is progressive (SOF2, SOF6, SOF10, SOF14). */
  readonly progressive: boolean;
  /** From the frame header; 0 when there is none. */
  readonly width: number;
  readonly height: number;
  readonly components: readonly JpegComponent[];
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;

function isStandalone(code: number): boolean {
  return code === TEM || (code >= 0xd0 && code <= 0xd7); // TEM, RST0-RST7
}

/** SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
function isStartOfFrame(code: number): boolean {
  return code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc;
}

function isProgressiveFrame(code: number): boolean {
  return code === 0xc2 || code === 0xc6 || code === 0xca || code === 0xce;
}

/**
 * Walks the markers of `bytes` (which must start with SOI) and counts the scans, stopping as
 * soon as there are more than `maxScans`. Linear in the size of the data; never throws: data
 * libjpeg would refuse is left for the decoder to refuse.
 */
export function readJpegStructure(bytes: Uint8Array, maxScans: number): JpegStructure {
  let scans = 0;
  let progressive = false;
  let width = 0;
  let height = 0;
  let components: JpegComponent[] = [];
  if (bytes[0] !== 0xff || bytes[1] !== SOI) return { scans, progressive, width, height, components };

  let pos = 2;
  while (pos < bytes.length && scans <= maxScans) {
    const ff = bytes.indexOf(0xff, pos);
    if (ff < 0) break;
    let at = ff + 1;
    while (at < bytes.length && bytes[at] === 0xff) at++; // fill bytes
    if (at >= bytes.length) break;
    const code = bytes[at]!;
    pos = at + 1;
    if (code === 0 || isStandalone(code) || code === SOI) continue; // data, RSTn/TEM; a second SOI fails the decoder
    if (code === EOI) break;
    if (pos + 2 > bytes.length) break;
    const length = (bytes[pos]! << 8) | bytes[pos + 1]!;
    if (length < 2) break; // libjpeg refuses the file
    const segment = pos + 2;
    if (code === SOS) {
      scans++;
    } else if (isStartOfFrame(code) && components.length === 0 && segment + 6 <= bytes.length) {
      progressive = isProgressiveFrame(code);
      height = (bytes[segment + 1]! << 8) | bytes[segment + 2]!;
      width = (bytes[segment + 3]! << 8) | bytes[segment + 4]!;
      const count = bytes[segment + 5]!;
      for (let i = 0; i < count && segment + 6 + i * 3 + 2 < bytes.length; i++) {
        const sampling = bytes[segment + 6 + i * 3 + 1]!;
        components.push({ horizontalSampling: sampling >> 4, verticalSampling: sampling & 0x0f });
      }
      components = components.filter((c) => c.horizontalSampling > 0 && c.verticalSampling > 0);
    }
    // A scan's entropy-coded data follows its header: the next iteration skips it up to the next marker.
    pos += length;
  }
  return { scans, progressive, width, height, components };
}

/**
 * Bytes libjpeg holds for a progressive frame: every DCT coefficient of every block of every
 * component, as 16-bit values (`jdcoefct.c`'s whole-image buffer), for the whole decode.
 */
export function progressiveCoefficientBytes(structure: JpegStructure): number {
  const { width, height, components } = structure;
  const hMax = Math.max(1, ...components.map((c) => c.horizontalSampling));
  const vMax = Math.max(1, ...components.map((c) => c.verticalSampling));
  let blocks = 0;
  for (const c of components) {
    const w = Math.ceil((width * c.horizontalSampling) / hMax / 8);
    const h = Math.ceil((height * c.verticalSampling) / vMax / 8);
    blocks += w * h;
  }
  return blocks * 64 * 2;
}
