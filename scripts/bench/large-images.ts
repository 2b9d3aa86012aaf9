/**
 * The bench's camera-sized photos: 12-megapixel JPEGs (4000 × 3000) made from some of the
 * development photos, so that decoding a large upload (where sharp's shrink-on-load and OpenCV's
 * full decode part ways) is measured beside the small PNGs. Made once, deterministically, and kept
 * in `.bench/` (not committed: several megabytes each).
 *
 * Upscaled photos are smoother than a camera's and would compress to a fraction of a camera JPEG,
 * whose size (the entropy-coded data every decoder reads in full) matters to the decode time; so
 * each gets a fixed pseudo-random grain, which brings it to the 3–5 MB of a phone's 12 MP JPEG.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/** How the photos are made; part of the folder's name, so that a change makes new ones. */
export interface LargeImageOptions {
  /** How many (spread evenly over the sorted development photos). Default 8. */
  readonly count?: number;
  readonly width?: number;
  readonly height?: number;
  /** JPEG quality (baseline, 4:2:0). Default 90. */
  readonly quality?: number;
  /** Peak amplitude of the grain, in 8-bit levels. Default 12. */
  readonly grain?: number;
}

/** Adds a deterministic grain in place (xorshift32: the same bytes on every machine). */
function addGrain(pixels: Uint8Array, amplitude: number, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < pixels.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const v = pixels[i]! + (((x >>> 0) % (2 * amplitude + 1)) - amplitude);
    pixels[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

/**
 * Makes (or finds, when made before with the same options) the large JPEGs from the photos of
 * `sourceDir` under `cacheDir`; resolves with their folder.
 */
export async function largeJpegs(sourceDir: string, cacheDir: string, options: LargeImageOptions = {}): Promise<string> {
  const { count = 8, width = 4000, height = 3000, quality = 90, grain = 12 } = options;
  const dir = path.join(cacheDir, `jpeg-${width}x${height}-q${quality}-g${grain}-n${count}`);
  const done = path.join(dir, '.complete');
  if (existsSync(done)) return dir;
  mkdirSync(dir, { recursive: true });
  const sources = readdirSync(sourceDir).filter((n) => /\.(png|jpe?g|webp)$/i.test(n)).sort();
  if (sources.length === 0) throw new Error(`no photos in ${sourceDir} to make large JPEGs from`);
  const chosen = Array.from({ length: Math.min(count, sources.length) }, (_, i) => sources[Math.floor((i * sources.length) / count)]!);
  for (const [i, name] of chosen.entries()) {
    // Cover keeps the photo's proportions (a camera's 4:3), cropping what does not fit.
    const { data, info } = await sharp(readFileSync(path.join(sourceDir, name)))
      .flatten({ background: '#ffffff' })
      .resize(width, height, { fit: 'cover' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    addGrain(data, grain, 0x9e3779b9 ^ (i + 1));
    const jpeg = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: '4:2:0', mozjpeg: false })
      .toBuffer();
    writeFileSync(path.join(dir, `${path.parse(name).name}.jpg`), jpeg);
  }
  writeFileSync(done, `${chosen.join('\n')}\n`);
  return dir;
}
