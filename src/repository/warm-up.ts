/**
 * One inference before taking traffic: onnxruntime allocates its buffers and sharp loads its
 * codecs on first use, so the first real request would otherwise pay for both.
 */
import sharp from 'sharp';
import type { Classifier } from '../model/classifier.js';

/** Classifies a generated grey image once; rejects when the model cannot run it. */
export async function warmUp(classifier: Classifier): Promise<void> {
  const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toBuffer();
  await classifier.classify(image);
}
