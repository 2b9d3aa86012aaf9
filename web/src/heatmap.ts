/**
 * The heatmap of `POST /explain` laid over the photo: a canvas of one pixel per cell, coloured
 * as the service colours its PNG (`src/model/explain/heat-colours.ts`), stretched by the browser (which
 * smooths it) over the part of the photo the model saw, and kept in place when the photo's
 * displayed size changes.
 */
import { heatColour, heatLevels } from '../../src/model/explain/heat-colours.js';
import type { Heatmap } from './api.js';

/**
 * Draws `heatmap` on `canvas`, placed over `photo`; `crop` outlines the part the model saw,
 * shown when that is not the whole photo (the model crops the centre of photos that are not
 * square, and the heatmap covers only that part).
 */
export function drawHeatmap(canvas: HTMLCanvasElement, photo: HTMLImageElement, heatmap: Heatmap, crop: HTMLElement): void {
  const levels = heatLevels(heatmap.values);
  canvas.width = heatmap.cols;
  canvas.height = heatmap.rows;
  const context = canvas.getContext('2d');
  if (!context) return;
  const image = context.createImageData(heatmap.cols, heatmap.rows);
  levels.forEach((row, r) => row.forEach((level, c) => image.data.set(heatColour(level), (r * heatmap.cols + c) * 4)));
  context.putImageData(image, 0, 0);
  const { region } = heatmap;
  crop.dataset.partial = String(region.width < 0.99 || region.height < 0.99);
  const placeBoth = (): void => {
    place(canvas, photo, region);
    place(crop, photo, region);
  };
  placeBoth();
  observed.get(canvas)?.disconnect();
  const observer = new ResizeObserver(placeBoth);
  observer.observe(photo);
  observed.set(canvas, observer);
}

const observed = new WeakMap<HTMLCanvasElement, ResizeObserver>();

/** Puts the canvas over the region of the photo (CSSOM: the page allows no inline styles). */
function place(canvas: HTMLElement, photo: HTMLImageElement, region: Heatmap['region']): void {
  const width = photo.clientWidth;
  const height = photo.clientHeight;
  canvas.style.left = `${region.left * width}px`;
  canvas.style.top = `${region.top * height}px`;
  canvas.style.width = `${region.width * width}px`;
  canvas.style.height = `${region.height * height}px`;
}
