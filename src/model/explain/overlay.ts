/**
 * The photo with its heatmap laid over it, as a PNG (`POST /explain` with `Accept: image/png`).
 *
 * The photo is decoded a second time for this, at display size (at most `maxSide` pixels a
 * side; the model's own input is a small crop and would make a poor picture), with the same
 * orientation and flattening as for the model. The heatmap's cells are coloured
 * (`heat-colours.ts`), smoothed to the size of the region the model saw (its
 * {@link Coverage}) and composited over it.
 */
import sharp from 'sharp';
import { heatColour, heatLevels } from './heat-colours.js';
import type { Coverage } from './occlusion.js';

/** Options of {@link overlayPng}. */
export interface OverlayOptions {
  /** Longest side of the picture, in pixels; smaller photos keep their size. */
  readonly maxSide: number;
  /**
   * Largest accepted width × height of the photo; default no limit: the photo has been decoded
   * for the model under the service's limit already.
   */
  readonly maxImagePixels?: number;
}

/** The heatmap as an RGBA raster, one pixel per cell. */
function heatRaster(values: readonly (readonly number[])[]): { data: Buffer; width: number; height: number } {
  const levels = heatLevels(values);
  const height = levels.length;
  const width = levels[0]?.length ?? 0;
  const data = Buffer.alloc(width * height * 4);
  levels.forEach((row, r) => row.forEach((level, c) => data.set(heatColour(level), (r * width + c) * 4)));
  return { data, width, height };
}

/** `photo` with `values` laid over the part `cover` of it, as PNG bytes. */
export async function overlayPng(
  photo: Uint8Array,
  values: readonly (readonly number[])[],
  cover: Coverage,
  options: OverlayOptions,
): Promise<Buffer> {
  const { data: pixels, info } = await sharp(photo, { failOn: 'error', limitInputPixels: options.maxImagePixels ?? false, animated: false })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(options.maxSide, options.maxSide, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = info;

  // The region the model saw, in picture pixels; it can exceed the picture (`contain`).
  const box = {
    left: Math.round(cover.left * width),
    top: Math.round(cover.top * height),
    width: Math.max(1, Math.round(cover.width * width)),
    height: Math.max(1, Math.round(cover.height * height)),
  };
  const raster = heatRaster(values);
  let heat = sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: 4 } })
    .resize(box.width, box.height, { fit: 'fill', kernel: 'linear' });
  // Only the part over the picture.
  const left = Math.max(0, box.left);
  const top = Math.max(0, box.top);
  const visible = {
    left: left - box.left,
    top: top - box.top,
    width: Math.min(width, box.left + box.width) - left,
    height: Math.min(height, box.top + box.height) - top,
  };
  if (visible.left > 0 || visible.top > 0 || visible.width < box.width || visible.height < box.height) {
    heat = sharp(await heat.png().toBuffer()).extract(visible);
  }
  const layer = await heat.png().toBuffer();
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .composite([{ input: layer, left, top }])
    .png({ compressionLevel: 6 })
    .toBuffer();
}
