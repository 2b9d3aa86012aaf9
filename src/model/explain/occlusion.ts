/**
 * Occlusion sensitivity (Zeiler & Fergus, 2014): where in a photo the model's answer comes from.
 * The decoded model input is split into a grid; for each cell, a window centred on it (larger
 * than the cell, so that neighbouring windows overlap) is replaced by the same region of a
 * featureless copy of the image, and the image is classified again. A cell's value is how much
 * the predicted label's probability drops when its window is hidden: high where the evidence is.
 *
 * The window is the cell grown by one cell on every side (3 × 3 cells, a little under half the
 * image's side on a 7 × 7 grid): hiding a single cell rarely changes the answer of a model that
 * sees a whole cat (its other parts still show), and on the course's cat.png a window of 2 × 2
 * cells showed nothing where 3 × 3 finds the head.
 *
 * Everything here is arithmetic on interleaved 8-bit RGB buffers (what `preprocess.ts` decodes
 * to); the classifier runs the passes (`classifier.ts`, `explain`).
 */

/** A grid of `rows` × `cols` cells over the model's input. */
export interface Grid {
  readonly rows: number;
  readonly cols: number;
}

/** A rectangle of pixels, `[left, right)` × `[top, bottom)`. */
export interface PixelRect {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/** The smallest grid an explanation uses (7 × 7 cells). */
const minGridSide = 7;

/**
 * The largest square grid whose passes (one per cell, plus the unmasked image) fit in
 * `maxPasses`: 64 → 7 × 7 (50 passes), 82 → 9 × 9.
 *
 * @throws RangeError when `maxPasses` cannot hold a {@link minGridSide}-sided grid.
 */
export function gridFor(maxPasses: number): Grid {
  const side = Math.floor(Math.sqrt(maxPasses - 1));
  if (!(side >= minGridSide)) throw new RangeError(`maxPasses must be at least ${minGridSide ** 2 + 1}`);
  return { rows: side, cols: side };
}

/** The forward passes of one explanation with `grid`: one per cell and the unmasked image. */
export function passesOf(grid: Grid): number {
  return grid.rows * grid.cols + 1;
}

/** How many cells a window reaches beyond its own cell on every side. */
const windowGrowth = 1;

/**
 * The window hidden for each cell, row by row: the cell grown by {@link windowGrowth} cells on
 * every side, clipped to the image.
 */
export function occlusionWindows(width: number, height: number, grid: Grid): PixelRect[] {
  const windows: PixelRect[] = [];
  const cellW = width / grid.cols;
  const cellH = height / grid.rows;
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) {
      windows.push({
        left: Math.max(0, Math.round((c - windowGrowth) * cellW)),
        top: Math.max(0, Math.round((r - windowGrowth) * cellH)),
        right: Math.min(width, Math.round((c + 1 + windowGrowth) * cellW)),
        bottom: Math.min(height, Math.round((r + 1 + windowGrowth) * cellH)),
      });
    }
  }
  return windows;
}

/**
 * A copy of `pixels` (interleaved RGB, `width` pixels a row) with `window` taken from `fill`
 * (the same size and layout).
 */
export function occlude(pixels: Uint8Array, fill: Uint8Array, width: number, window: PixelRect): Uint8Array {
  if (fill.length !== pixels.length) throw new RangeError('the fill must have the size of the image');
  const out = new Uint8Array(pixels);
  for (let y = window.top; y < window.bottom; y++) {
    const start = (y * width + window.left) * 3;
    const end = (y * width + window.right) * 3;
    out.set(fill.subarray(start, end), start);
  }
  return out;
}

/**
 * The heatmap: for each cell (row by row, as {@link occlusionWindows} orders them), the drop of
 * the predicted label's probability from `base` when that cell's window was hidden. Negative
 * where hiding made the label more likely. Rounded to 4 decimals.
 */
export function heatmap(base: number, masked: readonly number[], grid: Grid): number[][] {
  if (masked.length !== grid.rows * grid.cols) throw new RangeError(`expected ${grid.rows * grid.cols} masked probabilities`);
  return Array.from({ length: grid.rows }, (_, r) =>
    Array.from({ length: grid.cols }, (_, c) => Math.round((base - masked[r * grid.cols + c]!) * 10_000) / 10_000),
  );
}

/** Where the model's input lies on the photo, as fractions of the photo's width and height. */
export interface Coverage {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The part of a `photoWidth` × `photoHeight` photo (after EXIF orientation) that a model input
 * of `inputWidth` × `inputHeight` shows, for the manifest's `resize`: `fill` the whole photo,
 * `cover` its centre (the rest is cropped), `contain` more than the photo (it is letterboxed;
 * fractions then fall outside [0, 1]).
 */
export function coverage(
  photoWidth: number,
  photoHeight: number,
  inputWidth: number,
  inputHeight: number,
  resize: 'fill' | 'cover' | 'contain',
): Coverage {
  if (resize === 'fill') return { left: 0, top: 0, width: 1, height: 1 };
  const sx = inputWidth / photoWidth;
  const sy = inputHeight / photoHeight;
  const scale = resize === 'cover' ? Math.max(sx, sy) : Math.min(sx, sy);
  const width = inputWidth / scale / photoWidth;
  const height = inputHeight / scale / photoHeight;
  const round = (v: number): number => Math.round(v * 1e6) / 1e6;
  return { left: round((1 - width) / 2), top: round((1 - height) / 2), width: round(width), height: round(height) };
}
