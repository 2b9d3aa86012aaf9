/**
 * `make calibrate`: measures the activation means that the 7-bit backbone's bias correction uses
 * (tools/onnx/reduce-range.ts) on labelled photos, and writes them to the committed
 * resources/models/activation-means.json, so that `make model` builds the same backbone
 * everywhere without the photos. Run it again only to recalibrate (then `make model`, and
 * `make train ... --out resources/models/head.json`: the backbone, hence its head, changes).
 *
 *   tsx scripts/calibrate.ts --data ../shared/data/cats-dogs-others
 *        [--backbone resources/models/mobilenetv2-12-int8.onnx] [--out resources/models/activation-means.json]
 *        [--resize cover] [--no-flip]
 *
 * The photos are preprocessed as the service does, each with its mirror image (as training sees
 * them); the Zoo's int8 network runs with uint8-re-typed weights, exact on every CPU.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeModel } from '../src/model/onnx/codec.js';
import { createPreprocessor } from '../src/model/image/preprocess.js';
import { MEANS_FORMAT, measureInputMeans, writeMeansFile } from '../tools/onnx/activation-means.js';
import { MOBILENETV2_INPUT } from '../tools/training/backbone.js';
import { flipHorizontal } from '../tools/training/features.js';
import { readLabels } from '../tools/training/labels.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    backbone: { type: 'string', default: 'resources/models/mobilenetv2-12-int8.onnx' },
    out: { type: 'string', default: 'resources/models/activation-means.json' },
    resize: { type: 'string', default: 'cover' },
    'no-flip': { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`calibrate: ${message}`);
  process.exit(2);
}

if (!args.data) fail('give --data DIR (a folder with labels.json and images/)');
if (!existsSync(args.backbone)) fail(`no backbone at ${args.backbone}: run \`make model\` first`);
if (!['fill', 'cover', 'contain'].includes(args.resize)) fail('--resize must be fill, cover or contain');
const input = { ...MOBILENETV2_INPUT, resize: args.resize as 'fill' | 'cover' | 'contain' };
const flip = !args['no-flip'];
const backboneBytes = readFileSync(args.backbone);
const images = await readLabels(path.join(args.data, 'labels.json'), path.join(args.data, 'images'), ['Cat', 'Dog', 'Other']);
const preprocess = createPreprocessor(input, { maxImagePixels: 100_000_000 });

/** Each photo's input tensor, then its mirror image. */
async function* tensors(): AsyncGenerator<Float32Array> {
  for (const image of images) {
    const x = await preprocess(await readFile(image.file));
    yield x;
    if (flip) yield flipHorizontal(x, input.width, input.height);
  }
}
const all: Float32Array[] = [];
for await (const x of tensors()) all.push(x);

const tensorsMeans = await measureInputMeans(decodeModel(backboneBytes), all, [1, 3, input.height, input.width]);
await writeMeansFile(args.out, {
  format: MEANS_FORMAT,
  model: { file: path.basename(args.backbone), sha256: createHash('sha256').update(backboneBytes).digest('hex') },
  inputs: { images: images.length, flip, resize: input.resize },
  tensors: tensorsMeans,
});
console.log(`calibrate: ${args.out}: means of ${Object.keys(tensorsMeans).length} activations over ${images.length} photos${flip ? ' and their mirror images' : ''}`);
