/**
 * `make model-report`: the int8 forms of the backbone side by side (issue 23), printed as the
 * tables of docs/model.md: the Zoo's full-range int8 weights and the served 7-bit ones, each as
 * stored (u8s8 kernels), re-typed as uint8 (u8u8) and as the exact float32 reference:
 *
 * - which kernels `INT8_WEIGHTS` leads onnxruntime to on each kind of CPU, and whether their sums
 *   are exact;
 * - ms per image of the Cat/Dog/Other graph on one thread, batch 1 and 8: the median of
 *   interleaved rounds (each round runs every form in turn, in a rotated order), and ratios of
 *   those medians from this one run;
 * - the nested-cross-validated accuracy of a head trained on each form's features (`make
 *   train`'s procedure), and the zero-shot accuracy of each ImageNet classifier;
 * - how many probabilities agree bit for bit between the forms that claim exactness.
 *
 * With `--schemes`, instead: the ways of making 7-bit weights that were compared
 * (tools/int8-schemes.ts), by closeness to the Zoo's network and accuracy.
 *
 *   tsx scripts/model-report.ts --data ../shared/data/cats-dogs-others [--rounds 7] [--images 24] [--schemes]
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hostCpuFeatures, signedInt8IsExact } from '../src/model/int8/kernels.js';
import { loadManifest } from '../src/model/manifest.js';
import { hasSignedWeights, unsignedWeightsModel } from '../src/model/int8/unsigned-weights.js';
import { decodeModel, encodeModel } from '../src/model/onnx/codec.js';
import type { ModelProto } from '../src/model/onnx/types.js';
import { readMeansFile } from '../tools/onnx/activation-means.js';
import { dequantizeModel } from '../tools/onnx/dequantize.js';
import { closeness, schemes } from '../tools/int8-schemes.js';
import { createPostprocessor } from '../src/model/postprocess.js';
import { createPreprocessor } from '../src/model/image/preprocess.js';
import { CPUS, autoChoice, featuresOf, formsOf, identicalRows, median, msPerImage, oneThreadSession, runRows, type Form } from '../tools/int8-forms.js';
import { BACKBONE_7BIT_FILE, MOBILENETV2_INPUT, buildFeatureExtractor } from '../tools/training/backbone.js';
import { PROBABILITIES_OUTPUT } from '../tools/training/compose.js';
import { nestedCrossValidate } from '../tools/training/cross-validate.js';
import { flipHorizontal } from '../tools/training/features.js';
import { readHeadFile } from '../tools/training/head-file.js';
import { readLabels } from '../tools/training/labels.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    models: { type: 'string', default: 'resources/models' },
    rounds: { type: 'string', default: '7' },
    images: { type: 'string', default: '24' },
    schemes: { type: 'boolean', default: false },
  },
});
if (!args.data) {
  console.error('model-report: give --data DIR (labelled photos: labels.json and images/)');
  process.exit(2);
}
const LABELS = ['Cat', 'Dog', 'Other'] as const;
const models = args.models;
const head = await readHeadFile(path.join(models, 'head.json'));
const zoo = decodeModel(readFileSync(path.join(models, 'mobilenetv2-12-int8.onnx')));
const sevenBitBytes = readFileSync(path.join(models, BACKBONE_7BIT_FILE));
const sevenBit = decodeModel(sevenBitBytes);
const forms: Form[] = [...formsOf('Zoo', zoo, head, true), ...formsOf('7-bit', sevenBit, head, true)];

const host = hostCpuFeatures();
const cpuName = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? process.arch;
const hostFlags = ['avx2', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => host.flags.has(f));
console.log(`# make model-report, ${new Date().toISOString()}\n\nThis machine: ${cpuName}, ${hostFlags.join(' ')}; u8s8 exact on this CPU: ${signedInt8IsExact(host)}; onnxruntime-node, one thread.\n`);

// Kernels per CPU, for both weights and each setting.
if (!args.schemes) {
  console.log(`## Kernels and exactness by CPU (INT8_WEIGHTS)\n\n| weights, setting | ${CPUS.map((c) => c.name).join(' | ')} |\n|---|${CPUS.map(() => '---').join('|')}|`);
  for (const [weights, model] of [['Zoo', zoo], ['7-bit', sevenBit]] as const) {
    const bytes = forms.find((f) => f.weights === weights && f.kernels === 'u8s8')!.classifier;
    console.log(`| ${weights}, auto | ${CPUS.map((c) => autoChoice(model, bytes, c)).join(' | ')} |`);
    console.log(`| ${weights}, as-is | ${CPUS.map((c) => (c.u8s8.includes('int32') ? 'u8s8, exact (CPU)' : weights === '7-bit' ? 'u8s8, exact (weights within ±64)' : 'u8s8, NOT exact')).join(' | ')} |`);
    console.log(`| ${weights}, unsigned | ${CPUS.map(() => 'u8u8, exact').join(' | ')} |`);
  }
  console.log(`\nu8s8 kernels: ${CPUS.map((c) => `${c.name}: ${c.u8s8}`).join('; ')}. u8u8: operands widened to int16 before VPMADDWD (int32 sums), exact everywhere.\n`);
}

// The photos, preprocessed as served, and their mirror images (as training sees them).
const images = await readLabels(path.join(args.data, 'labels.json'), path.join(args.data, 'images'), LABELS);
const labels = images.map((i) => i.label);
const input = { ...MOBILENETV2_INPUT, resize: head.resize };
const preprocess = createPreprocessor(input, { maxImagePixels: 100_000_000 });
const photos: Float32Array[] = [];
for (const image of images) photos.push(await preprocess(await readFile(image.file)));
const mirrored = photos.map((x) => flipHorizontal(x, input.width, input.height));

/** Nested-CV accuracy of a head trained on features (photos, then their mirror images), as `make train` measures it. */
function crossValidated(features: readonly Float32Array[]): string {
  const perImage = photos.map((_, i) => ({ original: features[i]!, flipped: features[i + photos.length]! }));
  const { seed, folds, repeats, l2Grid } = head.training;
  const cv = nestedCrossValidate(perImage, labels, LABELS.length, l2Grid, { flip: true, folds, seed, repeats });
  const correct = cv.confusion.reduce((s, row, i) => s + row[i]!, 0);
  return `${cv.accuracy.toFixed(3)} (${correct}/${labels.length}), log-loss ${cv.logLoss.toFixed(3)}`;
}

const zeroShotManifest = await loadManifest(path.join(models, 'repository', 'imagenet-grouped', '1', 'manifest.json'));
const decide = createPostprocessor(zeroShotManifest);
/** Zero-shot accuracy of ImageNet logits (one row per photo), grouped as imagenet-grouped/1 serves them. */
function zeroShotAccuracy(rows: readonly Float32Array[]): string {
  const correct = photos.filter((_, i) => decide(rows[i]!).prediction === LABELS[labels[i]!]).length;
  return `${(correct / labels.length).toFixed(3)} (${correct}/${labels.length})`;
}

if (args.schemes) {
  const means = await readMeansFile(path.join(models, 'activation-means.json'));
  const views = [...photos, ...mirrored];
  /** ImageNet logits of every view, with weights re-typed as uint8: exact on any CPU. */
  const logits = async (model: ModelProto): Promise<Float32Array[]> => {
    const session = await oneThreadSession(encodeModel(hasSignedWeights(model) ? unsignedWeightsModel(model) : model));
    try {
      return await runRows(session, views, 1, zeroShotManifest.output.name);
    } finally {
      await session.release();
    }
  };
  const reference = await logits(zoo);
  console.log(`## Making the weights 7-bit: the schemes compared\n\nOn the ${photos.length} photos and their mirror images (${views.length} views): ImageNet top-1 class and KL divergence against the Zoo's int8 network; zero-shot accuracy (photos); nested-CV accuracy of a head retrained on each one's features.\n`);
  console.log('| weights | top-1 = Zoo | KL from Zoo | zero-shot | nested-CV accuracy |\n|---|---:|---:|---|---|');
  const floatForm = dequantizeModel(zoo, { representation: 'real' });
  const rows: [string, ModelProto, boolean][] = [
    ['Zoo int8 (reference)', zoo, true],
    ['Zoo weights in float32, activations not rounded (for scale)', floatForm, false],
    ...schemes(zoo, means.tensors).map((s): [string, ModelProto, boolean] => [s.name, s.model, true]),
  ];
  for (const [name, model, quantised] of rows) {
    const out = await logits(model);
    const { top1Agreement, kl } = closeness(reference, out);
    const cv = quantised ? crossValidated(await featuresOf(encodeModel(unsignedWeightsModel(buildFeatureExtractor(model, 'int8'))), views)) : '—';
    console.log(`| ${name} | ${top1Agreement}/${views.length} | ${kl.toFixed(3)} | ${zeroShotAccuracy(out.slice(0, photos.length))} | ${cv} |`);
  }
  process.exit(0);
}

// Speed: sessions made once, rounds interleaved.
const subset = photos.slice(0, Number(args.images));
const sessions = await Promise.all(forms.map((f) => oneThreadSession(f.classifier)));
for (const s of sessions) await msPerImage(s, subset.slice(0, 8), 8); // warm-up
const times = forms.map(() => ({ b1: [] as number[], b8: [] as number[] }));
for (let r = 0; r < Number(args.rounds); r++) {
  for (let k = 0; k < forms.length; k++) {
    const i = (k + r) % forms.length;
    times[i]!.b1.push(await msPerImage(sessions[i]!, subset, 1));
    times[i]!.b8.push(await msPerImage(sessions[i]!, subset, 8));
  }
}

// Probabilities, batch 1 and 8, on every photo; features for the head's cross-validation.
const probabilities = await Promise.all(sessions.map(async (s) => ({ b1: await runRows(s, photos, 1, PROBABILITIES_OUTPUT), b8: await runRows(s, photos, 8, PROBABILITIES_OUTPUT) })));
for (const s of sessions) await s.release();
const accuracy: string[] = [];
const seen: { features: Float32Array[]; result: string }[] = [];
for (const form of forms) {
  const features = await featuresOf(form.extractor, [...photos, ...mirrored]);
  const same = seen.find((s) => identicalRows(s.features, features) === features.length);
  if (same) {
    accuracy.push(same.result);
    continue;
  }
  const result = crossValidated(features);
  seen.push({ features, result });
  accuracy.push(result);
}

// Zero-shot: the whole ImageNet classifier, grouped as imagenet-grouped/1 serves it.
const zeroShot = new Map<string, string>();
for (const [weights, bytes] of [['Zoo', readFileSync(path.join(models, 'mobilenetv2-12-int8.onnx'))], ['7-bit', sevenBitBytes]] as const) {
  const session = await oneThreadSession(bytes);
  const rows = await runRows(session, photos, 1, zeroShotManifest.output.name);
  await session.release();
  zeroShot.set(weights, zeroShotAccuracy(rows));
}

const served = forms.findIndex((f) => f.name === '7-bit, as-is');
const m = (i: number, b: 'b1' | 'b8'): number => median(times[i]![b]);
const range = (xs: number[]): string => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
// Each round's ratio to the served form (run in the same round, so slow drifts of the machine's load cancel), then their median.
const ratio = (i: number, b: 'b1' | 'b8'): string => median(times[i]![b].map((t, r) => t / times[served]![b][r]!)).toFixed(2);
console.log(`## Speed and accuracy\n\nms per image, one thread, median of ${args.rounds} interleaved rounds of ${subset.length} images (range); ratio to 7-bit as-is (served): median of the rounds' ratios, this run. Accuracy: head retrained on each form's features, nested ${head.training.folds}-fold CV (seed ${head.training.seed}, ${head.training.repeats} repeats) on ${labels.length} photos.\n`);
console.log('| form | kernels | batch 1 ms | batch 8 ms | ratio b1 / b8 | nested-CV accuracy | zero-shot (ImageNet grouped) |\n|---|---|---:|---:|---:|---|---|');
forms.forEach((f, i) => {
  const ratios = `${ratio(i, 'b1')} / ${ratio(i, 'b8')}`;
  const zs = f.kernels === 'u8s8' ? zeroShot.get(f.weights)! : 'same as as-is (exact)';
  console.log(`| ${f.name} | ${f.kernels} | ${m(i, 'b1').toFixed(1)} (${range(times[i]!.b1)}) | ${m(i, 'b8').toFixed(1)} (${range(times[i]!.b8)}) | ${ratios} | ${accuracy[i]} | ${zs} |`);
});

console.log(`\n## Bit-equality of the Cat/Dog/Other probabilities (${photos.length} photos)\n\n| pair | batch 1 | batch 8 |\n|---|---:|---:|`);
for (const weights of ['7-bit', 'Zoo']) {
  const of = (kernels: string): number => forms.findIndex((f) => f.weights === weights && f.kernels === kernels);
  for (const [a, b] of [['u8s8', 'u8u8'], ['u8s8', 'float32'], ['u8u8', 'float32']] as const) {
    const [i, j] = [of(a), of(b)];
    console.log(`| ${weights}: ${a} vs ${b} | ${identicalRows(probabilities[i]!.b1, probabilities[j]!.b1)}/${photos.length} | ${identicalRows(probabilities[i]!.b8, probabilities[j]!.b8)}/${photos.length} |`);
  }
}
console.log(`\nThis CPU's u8s8 kernels are ${signedInt8IsExact(host) ? 'exact (VNNI/AMX/ARM64): the Zoo rows agree here too; on a CPU without VNNI only the 7-bit u8s8 form stays exact' : 'not exact: the Zoo u8s8 row shows what saturation does'}.`);
