/**
 * `make model`, after `scripts/fetch-model.ts`: builds the served models from the verified
 * int8 backbone and the committed head, into resources/models/:
 *
 * - `catdog-mobilenetv2.onnx` + `catdog-mobilenetv2.json`: backbone (the int8 graph as the Zoo
 *   ships it, cut at its pooled features) + trained head + softmax, outputs Cat, Dog, Other. The
 *   default served model. The classifier hands its int8 weights to onnxruntime in the form that
 *   is exact on the CPU it runs on (src/model/int8/kernels.ts), so the features equal, bit for
 *   bit, the float32 form the head was trained on, on every CPU.
 * - `mobilenetv2-12-exact.onnx` + `mobilenetv2-12-exact.json`: the whole ImageNet classifier in
 *   the same exact float32 form, zero-shot, classes grouped as in mobilenetv2-12-int8-grouped.json.
 *
 *   tsx scripts/build-model.ts [--backbone resources/models/mobilenetv2-12-int8.onnx]
 *        [--head resources/models/head.json] [--out-dir resources/models]
 *
 * Both files are deterministic, so the manifests (committed) pin their SHA-256; a changed hash
 * shows up as a diff of the manifest.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseManifest } from '../src/model/manifest.js';
import { decodeModel, encodeModel } from '../src/model/onnx/codec.js';
import { dequantizeModel } from '../tools/onnx/dequantize.js';
import { MOBILENETV2_INPUT } from '../tools/training/backbone.js';
import { PROBABILITIES_OUTPUT, composeClassifier } from '../tools/training/compose.js';
import { readHeadFile } from '../tools/training/head-file.js';

const { values: args } = parseArgs({
  options: {
    backbone: { type: 'string', default: 'resources/models/mobilenetv2-12-int8.onnx' },
    head: { type: 'string', default: 'resources/models/head.json' },
    'out-dir': { type: 'string', default: 'resources/models' },
  },
});
const outDir = args['out-dir'];
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const backboneBytes = readFileSync(args.backbone);
const head = await readHeadFile(args.head);
if (sha256(backboneBytes) !== head.backbone.sha256) {
  console.error(`build-model: ${args.backbone} is not the backbone ${args.head} was trained on (sha256 ${head.backbone.sha256})`);
  process.exit(1);
}

async function emit(onnxFile: string, bytes: Uint8Array, manifest: Record<string, unknown>): Promise<void> {
  const hash = sha256(bytes);
  const { name, description, ...rest } = manifest;
  const full = { name, description, file: onnxFile, sha256: hash, ...rest };
  const manifestFile = path.join(outDir, onnxFile.replace(/\.onnx$/, '.json'));
  parseManifest(full, path.resolve(manifestFile)); // refuse to write a manifest the service would refuse
  await writeFile(path.join(outDir, onnxFile), bytes);
  await writeFile(manifestFile, `${JSON.stringify(full, null, 2)}\n`);
  console.log(`build-model: ${path.join(outDir, onnxFile)} (${bytes.length} bytes, sha256 ${hash}) + ${manifestFile}`);
}

const quantized = decodeModel(backboneBytes);
await emit('mobilenetv2-12-exact.onnx', encodeModel(dequantizeModel(quantized)), {
  name: 'mobilenetv2-12-exact-imagenet-grouped',
  description:
    'MobileNetV2 int8 (ONNX Model Zoo) with its integer arithmetic reproduced exactly in float32 (same answers on every CPU); ImageNet-1k classes grouped into Cat (281-285), Dog (151-268) and Other',
  input: { ...MOBILENETV2_INPUT, resize: 'cover' }, // as mobilenetv2-12-int8-grouped.json
  output: { name: 'output', activation: 'softmax' },
  labels: ['Cat', 'Dog', 'Other'],
  grouping: { classes: 1000, groups: { Cat: [[281, 285]], Dog: [[151, 268]] }, rest: 'Other' },
  decision: { rule: 'threshold', among: ['Cat', 'Dog'], minSum: 0.2, otherwise: 'Other' },
});
await emit('catdog-mobilenetv2.onnx', encodeModel(composeClassifier(quantized, head, 'int8')), {
  name: 'catdog-mobilenetv2-head',
  description: `MobileNetV2 int8 backbone (exact integer arithmetic on every CPU, see INT8_WEIGHTS) + logistic-regression head trained on ${head.training.images} labelled photos (nested-CV accuracy ${head.training.nestedCvAccuracy.toFixed(3)}); softmax over Cat, Dog, Other`,
  input: { ...MOBILENETV2_INPUT, resize: head.resize },
  output: { name: PROBABILITIES_OUTPUT, activation: 'none' },
  labels: head.labels,
  decision: { rule: 'argmax' },
});
