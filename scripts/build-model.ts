/**
 * `make model`, after `scripts/fetch-model.ts`: builds the served models from the verified
 * int8 backbone and the committed head:
 *
 * - the model repository (`MODEL_REPOSITORY`, default resources/models/repository):
 *   - `catdog/1/`: backbone (the int8 graph as the Zoo ships it, cut at its pooled features) +
 *     trained head (resources/models/head.json) + softmax, outputs Cat, Dog, Other: the default
 *     model. The classifier hands its int8 weights to onnxruntime in the form that is exact on
 *     the CPU it runs on (src/model/int8/kernels.ts), so the features equal, bit for bit, the
 *     float32 form the head was trained on, on every CPU.
 *   - `imagenet-grouped/1/`: the Zoo's whole int8 ImageNet classifier, zero-shot, its classes
 *     grouped into Cat, Dog and Other.
 *   Each with `golden/cat.png` (resources/samples/cat.png), which it must answer Cat.
 * - `resources/models/mobilenetv2-12-exact.onnx` + `.json`: the ImageNet classifier in its exact
 *   float32 form (the reference `make train` extracts features with), for MODEL_MANIFEST.
 *
 *   tsx scripts/build-model.ts [--backbone resources/models/mobilenetv2-12-int8.onnx]
 *        [--head resources/models/head.json] [--out-dir resources/models]
 *        [--repository resources/models/repository]
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
import { dequantizeModel } from '../tools/onnx/dequantize.js';
import { writeVersion } from '../tools/repository/publish.js';
import { MOBILENETV2_INPUT } from '../tools/training/backbone.js';
import { readHeadFile } from '../tools/training/head-file.js';
import { MODEL_FILE, catdogModel, manifestText, sha256, versionManifest, type GoldenExample } from '../tools/training/served-model.js';

const { values: args } = parseArgs({
  options: {
    backbone: { type: 'string', default: 'resources/models/mobilenetv2-12-int8.onnx' },
    head: { type: 'string', default: 'resources/models/head.json' },
    'out-dir': { type: 'string', default: 'resources/models' },
    repository: { type: 'string', default: process.env.MODEL_REPOSITORY || 'resources/models/repository' },
  },
});
const outDir = args['out-dir'];

const backboneBytes = readFileSync(args.backbone);
const head = await readHeadFile(args.head);
if (sha256(backboneBytes) !== head.backbone.sha256) {
  console.error(`build-model: ${args.backbone} is not the backbone ${args.head} was trained on (sha256 ${head.backbone.sha256})`);
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

const quantized = decodeModel(backboneBytes);

// The exact float32 reference, beside the repository (MODEL_MANIFEST=resources/models/mobilenetv2-12-exact.json).
const exact = encodeModel(dequantizeModel(quantized));
const exactManifest = {
  name: 'mobilenetv2-12-exact-imagenet-grouped',
  description:
    'MobileNetV2 int8 (ONNX Model Zoo) with its integer arithmetic reproduced exactly in float32 (same answers on every CPU); ImageNet-1k classes grouped into Cat (281-285), Dog (151-268) and Other',
  file: 'mobilenetv2-12-exact.onnx',
  sha256: sha256(exact),
  ...zeroShot,
};
const exactManifestFile = path.join(outDir, 'mobilenetv2-12-exact.json');
parseManifest(exactManifest, path.resolve(exactManifestFile)); // refuse to write a manifest the service would refuse
for (const [file, bytes] of [[path.join(outDir, 'mobilenetv2-12-exact.onnx'), exact], [exactManifestFile, manifestText(exactManifest)]] as const) {
  await writeFile(`${file}.partial`, bytes);
  await rename(`${file}.partial`, file);
}
console.log(`build-model: ${path.join(outDir, 'mobilenetv2-12-exact.onnx')} (${exact.length} bytes, sha256 ${exactManifest.sha256}) + ${exactManifestFile}`);

await emitVersion('imagenet-grouped', backboneBytes, {
  name: 'mobilenetv2-12-int8-imagenet-grouped',
  description: 'MobileNetV2 int8 (ONNX Model Zoo), zero-shot: ImageNet-1k classes grouped into Cat (281-285), Dog (151-268) and Other',
  ...zeroShot,
});
const catdog = catdogModel(quantized, head);
await emitVersion('catdog', catdog.onnx, catdog.manifest);
