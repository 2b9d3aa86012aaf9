/**
 * `make model`, after `scripts/fetch-model.ts`: builds the served models from the verified
 * int8 backbone (the Zoo's file), the committed activation means and the committed head:
 *
 * - `resources/models/mobilenetv2-12-7bit.onnx`: the Zoo's int8 ImageNet classifier with its
 *   weights re-quantised to 7 bits and its biases corrected (tools/onnx/reduce-range.ts, means
 *   from resources/models/activation-means.json, `make calibrate`): onnxruntime's fast u8s8
 *   kernels are exact with it on every CPU. Everything below is built from it; `make train`
 *   reads it.
 * - the model repository (`MODEL_REPOSITORY`, default resources/models/repository):
 *   - `catdog/1/`: the 7-bit backbone, cut at its pooled features, + trained head
 *     (resources/models/head.json) + softmax, outputs Cat, Dog, Other: the default model. Its
 *     features equal, bit for bit and on every CPU, those of the exact float32 form the head was
 *     trained on (src/model/int8/kernels.ts).
 *   - `imagenet-grouped/1/`: the whole 7-bit ImageNet classifier, zero-shot, its classes
 *     grouped into Cat, Dog and Other.
 *   Each with `golden/cat.png` (resources/samples/cat.png), which it must answer Cat.
 * - `resources/models/mobilenetv2-12-exact.onnx` + `.json`: the 7-bit ImageNet classifier in
 *   its exact float32 form (the reference `make train` extracts features with), for MODEL_MANIFEST.
 *
 *   tsx scripts/build-model.ts [--backbone resources/models/mobilenetv2-12-int8.onnx]
 *        [--means resources/models/activation-means.json] [--head resources/models/head.json]
 *        [--out-dir resources/models] [--repository resources/models/repository]
 *
 * Every file is deterministic, so the manifests (committed) pin their SHA-256; a changed hash
 * shows up as a diff of a manifest. Each file is replaced by a rename: a service polling the
 * repository never reads half of one.
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseManifest } from '../src/model/manifest.js';
import { decodeModel, encodeModel } from '../src/model/onnx/codec.js';
import { readMeansFile } from '../tools/onnx/activation-means.js';
import { dequantizeModel } from '../tools/onnx/dequantize.js';
import { reduceWeightRange } from '../tools/onnx/reduce-range.js';
import { writeVersion } from '../tools/repository/publish.js';
import { BACKBONE_7BIT_FILE, MOBILENETV2_INPUT } from '../tools/training/backbone.js';
import { readHeadFile } from '../tools/training/head-file.js';
import { MODEL_FILE, catdogModel, manifestText, sha256, versionManifest, type GoldenExample } from '../tools/training/served-model.js';

const { values: args } = parseArgs({
  options: {
    backbone: { type: 'string', default: 'resources/models/mobilenetv2-12-int8.onnx' },
    means: { type: 'string', default: 'resources/models/activation-means.json' },
    head: { type: 'string', default: 'resources/models/head.json' },
    'out-dir': { type: 'string', default: 'resources/models' },
    repository: { type: 'string', default: process.env.MODEL_REPOSITORY || 'resources/models/repository' },
  },
});
const outDir = args['out-dir'];

const zooBytes = readFileSync(args.backbone);
const means = await readMeansFile(args.means);
if (sha256(zooBytes) !== means.model.sha256) {
  console.error(`build-model: ${args.backbone} is not the model ${args.means} was measured on (sha256 ${means.model.sha256}); run \`make calibrate\``);
  process.exit(1);
}
const reduced = reduceWeightRange(decodeModel(zooBytes), means.tensors);
const quantized = reduced.model;
const backboneBytes = encodeModel(quantized);
const backboneFile = path.join(outDir, BACKBONE_7BIT_FILE);
await replaceFile(backboneFile, backboneBytes);
const { nodes, channels, biasCorrected } = reduced.report;
console.log(`build-model: ${backboneFile} (${backboneBytes.length} bytes, sha256 ${sha256(backboneBytes)}): ${channels} channels of ${nodes} nodes re-quantised to 7 bits, biases of ${biasCorrected} convolutions corrected`);
const head = await readHeadFile(args.head);
if (sha256(backboneBytes) !== head.backbone.sha256) {
  console.error(`build-model: ${args.head} was trained on another backbone (sha256 ${head.backbone.sha256}); train one on ${backboneFile}: make train TRAIN_ARGS='--out ${args.head}'`);
  process.exit(1);
}
const golden: GoldenExample[] = [{ file: 'golden/cat.png', label: 'Cat', bytes: readFileSync('resources/samples/cat.png') }];
const zeroShot = {
  input: { ...MOBILENETV2_INPUT, resize: 'cover' },
  output: { name: 'output', activation: 'softmax' },
  labels: ['Cat', 'Dog', 'Other'],
  grouping: { classes: 1000, groups: { Cat: [[281, 285]], Dog: [[151, 268]] }, rest: 'Other' },
  decision: { rule: 'threshold', among: ['Cat', 'Dog'], minSum: 0.2, otherwise: 'Other' },
};

/** Writes a file aside, then renames it into place. */
async function replaceFile(file: string, bytes: Uint8Array | string): Promise<void> {
  await writeFile(`${file}.partial`, bytes);
  await rename(`${file}.partial`, file);
}

/** Writes version 1 of `model` into the repository: the ONNX file, the golden examples, then the manifest. */
async function emitVersion(model: string, onnx: Uint8Array, manifest: Record<string, unknown>): Promise<void> {
  const full = versionManifest(onnx, manifest, golden);
  const dir = await writeVersion(args.repository, model, 1, new Map<string, Uint8Array | string>([
    [MODEL_FILE, onnx],
    ...golden.map((g): [string, Uint8Array] => [g.file, g.bytes]),
    ['manifest.json', manifestText(full)],
  ]));
  console.log(`build-model: ${dir} (${MODEL_FILE} ${onnx.length} bytes, sha256 ${full.sha256 as string})`);
}

// The exact float32 reference, beside the repository (MODEL_MANIFEST=resources/models/mobilenetv2-12-exact.json).
const exact = encodeModel(dequantizeModel(quantized));
const exactManifest = {
  name: 'mobilenetv2-12-exact-imagenet-grouped',
  description:
    'MobileNetV2 int8 (ONNX Model Zoo), weights re-quantised to 7 bits, with its integer arithmetic reproduced exactly in float32 (same answers on every CPU); ImageNet-1k classes grouped into Cat (281-285), Dog (151-268) and Other',
  file: 'mobilenetv2-12-exact.onnx',
  sha256: sha256(exact),
  ...zeroShot,
};
const exactManifestFile = path.join(outDir, 'mobilenetv2-12-exact.json');
parseManifest(exactManifest, path.resolve(exactManifestFile)); // refuse to write a manifest the service would refuse
await replaceFile(path.join(outDir, 'mobilenetv2-12-exact.onnx'), exact);
await replaceFile(exactManifestFile, manifestText(exactManifest));
console.log(`build-model: ${path.join(outDir, 'mobilenetv2-12-exact.onnx')} (${exact.length} bytes, sha256 ${exactManifest.sha256}) + ${exactManifestFile}`);

await emitVersion('imagenet-grouped', backboneBytes, {
  name: 'mobilenetv2-12-int8-imagenet-grouped',
  description: 'MobileNetV2 int8 (ONNX Model Zoo), weights re-quantised to 7 bits (exact integer arithmetic on every CPU), zero-shot: ImageNet-1k classes grouped into Cat (281-285), Dog (151-268) and Other',
  ...zeroShot,
});
const catdog = catdogModel(quantized, head);
await emitVersion('catdog', catdog.onnx, catdog.manifest);
