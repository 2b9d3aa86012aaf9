/**
 * How a heatmap of probability drops is coloured, the same on the service's PNG
 * (`overlay.ts`) and on the web page (`web/src/heatmap.ts`): cells where hiding the region did
 * not lower the answer are left clear; the others go from a light yellow to a deep red, and
 * more opaque, as the drop grows towards the largest one.
 */

/** A drop below this share of the probability is not coloured at full strength, however it ranks. */
const smallestFullDrop = 0.1;

/** Opacity of the strongest cell; the photo stays visible beneath. */
const maxAlpha = 0.65;

/** Each cell's strength in [0, 1]: its drop over the largest (at least {@link smallestFullDrop}); rises only. */
export function heatLevels(values: readonly (readonly number[])[]): number[][] {
  const largest = Math.max(smallestFullDrop, ...values.flat());
  return values.map((row) => row.map((v) => Math.min(1, Math.max(0, v) / largest)));
}

/** The colour of a strength in [0, 1], as 8-bit RGBA. */
export function heatColour(level: number): [number, number, number, number] {
  const t = Math.min(1, Math.max(0, level));
  // From #fde047 (yellow) to #b91c1c (red).
  const mix = (a: number, b: number): number => Math.round(a + (b - a) * t);
  return [mix(0xfd, 0xb9), mix(0xe0, 0x1c), mix(0x47, 0x1c), Math.round(255 * maxAlpha * t)];
}
