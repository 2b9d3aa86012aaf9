/**
 * `make train`: trains the Cat/Dog/Other head on labelled photos and publishes the served model
 * it makes as the next version of `catdog` in the model repository (never overwriting one): a
 * service that polls the repository (`make run`) serves it within MODEL_POLL_INTERVAL_MS, with
 * no restart and no failed request.
 *
 *   tsx scripts/train.ts --data ../shared/data/cats-dogs-others
 *   tsx scripts/train.ts --images DIR --labels export.json [--resize cover|fill] [--no-flip]
 *        [--folds 5] [--seed 7] [--repeats 3] [--backbone resources/models/mobilenetv2-12-7bit.onnx]
 *        [--repository resources/models/repository] [--model catdog] [--out head.json]
 *        [--captures var/captures | --no-captures] [--held-out 0.2]
 *
 * Labelled captures (issue 25): the photos the service kept (CAPTURE_DIR, default `--captures`)
 * and that someone labelled (POST /feedback, the page, Label Studio) are read from its SQLite
 * database directly, read-only (no service needed; safe while one writes it), beside the
 * development photos or alone. A share of them (`--held-out`, by SHA-256, tools/training/held-out.ts)
 * is never trained on: the new head and the serving version (the newest in the repository) are
 * both run on it, and the new version is published only if it is not worse there
 * (tools/training/gate.ts); otherwise nothing is written and the exit status is 3.
 *
 * Labels: `labels.json` (`[{"file","label"}]`) or the course's export
 * (`{"annotations":[{"fileName","annotation":{"label"}}]}`); labels cat/dog/other, any case.
 * Features come from the backbone (the exact float32 form of the 7-bit int8 model that `make model`
 * writes, cut at its global average pool) on images preprocessed exactly as the service does. The L2 penalty is chosen by
 * stratified k-fold CV; nested CV gives the accuracy to expect on unseen photos. Deterministic:
 * same images, same options → same head and same model file.
 *
 * The version folder holds `model.onnx` (backbone + head, as `make model` composes it),
 * `manifest.json`, `head.json` (what was trained, and how well) and one golden example per label:
 * the first photo of that label the new model answers right, so that the service refuses a
 * version that does not (a wrong backbone, labels out of order). It is written into a hidden
 * folder and renamed into place once whole (tools/repository/publish.ts). `--out` also writes
 * the head file elsewhere (to make it the committed default: `--out resources/models/head.json`,
 * then `make model`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeModel, encodeModel } from '../src/model/onnx/codec.js';
import { BACKBONE_7BIT_FILE, MOBILENETV2_INPUT, buildFeatureExtractor } from '../tools/training/backbone.js';
import { nestedCrossValidate, selectL2 } from '../tools/training/cross-validate.js';
import { extractFeatures } from '../tools/training/features.js';
import { trainHead } from '../tools/training/head.js';
import { chooseGolden } from '../tools/training/golden.js';
import { headFileText, toHeadFile, writeHeadFile } from '../tools/training/head-file.js';
import { readLabels } from '../tools/training/labels.js';
import { formatCaptureSources, formatConfusion } from '../tools/training/report.js';
import { readCapturedPhotos, type CapturedPhotos } from '../tools/training/captures.js';
import { HELD_OUT_SHARE, capturesTraining, trainingSet } from '../tools/training/held-out.js';
import { formatVerdict, heldOutGate } from '../tools/training/gate.js';
import { envSchema } from '../src/config/schema.js';
import { MODEL_FILE, catdogModel, manifestText, versionManifest } from '../tools/training/served-model.js';
import { publishNextVersion } from '../tools/repository/publish.js';

const LABELS = ['Cat', 'Dog', 'Other'] as const;
const L2_GRID = [0.01, 0.1, 1, 10];

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    images: { type: 'string' },
    labels: { type: 'string' },
    backbone: { type: 'string', default: `resources/models/${BACKBONE_7BIT_FILE}` },
    repository: { type: 'string', default: process.env.MODEL_REPOSITORY || 'resources/models/repository' },
    model: { type: 'string', default: 'catdog' },
    out: { type: 'string' },
    resize: { type: 'string', default: 'cover' },
    'no-flip': { type: 'boolean', default: false },
    folds: { type: 'string', default: '5' },
    seed: { type: 'string', default: '7' },
    repeats: { type: 'string', default: '3' },
    captures: { type: 'string', default: process.env.CAPTURE_DIR || envSchema.properties.CAPTURE_DIR.default },
    'no-captures': { type: 'boolean', default: false },
    'held-out': { type: 'string', default: String(HELD_OUT_SHARE) },
  },
});

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(2);
}

/** Exit status when the held-out gate refuses the new head (nothing is written). */
const NOT_PUBLISHED = 3;

const data = args.data;
const imagesDir = args.images ?? (data && existsSync(path.join(data, 'images')) ? path.join(data, 'images') : data);
const labelsFile = args.labels ?? (data ? path.join(data, 'labels.json') : undefined);
/** What training needs, for a run that was not given it or could not read it. */
const NEEDS = [
  'training needs labelled photos: a folder of them, labelled captures, or both.',
  '- A folder with labels.json and images/, given as',
  '  make train TRAIN_DATA=/path/to/folder        (or: tsx scripts/train.ts --data /path/to/folder)',
  '  labels.json lists each photo of images/ and its label (Cat, Dog or Other): [{"file": "cat1.jpg", "label": "Cat"}, ...],',
  '  or the course\'s labelling export ({"annotations": [{"fileName": ..., "annotation": {"label": ...}}]}).',
  `- Labelled captures, read from CAPTURE_DIR (here ${args['no-captures'] ? 'not read: --no-captures' : args.captures}): the answers a service kept`,
  '  (make run keeps every one), labelled with POST /feedback, the page\'s Review view or Label Studio (docs/capture.md).',
].join('\n');
const heldOutShare = Number(args['held-out']);
if (!(heldOutShare >= 0 && heldOutShare <= 1)) fail('--held-out must be a share between 0 and 1');
let captured: CapturedPhotos | undefined;
try {
  captured = args['no-captures'] ? undefined : readCapturedPhotos(args.captures, LABELS);
} catch (err) {
  fail(`the captures in ${args.captures} cannot be read: ${(err as Error).message} (another CAPTURE_DIR, or --no-captures)`);
}
if ((!imagesDir || !labelsFile) && !captured?.photos.length) {
  fail(`no labelled photos given${captured ? `, and none of the captures in ${captured.dir} is labelled` : ''}.\n${NEEDS}`);
}
if (labelsFile && !existsSync(labelsFile)) fail(`${labelsFile} does not exist.\n${NEEDS}`);
if (!['fill', 'cover', 'contain'].includes(args.resize)) fail('--resize must be fill, cover or contain');
if (!existsSync(args.backbone)) fail(`no backbone at ${args.backbone}: run \`make model\` first`);
const resize = args.resize as 'fill' | 'cover' | 'contain';
const flip = !args['no-flip'];
const folds = Number(args.folds);
const seed = Number(args.seed);
const repeats = Number(args.repeats);

const backboneInput = { ...MOBILENETV2_INPUT, resize };
const backboneBytes = readFileSync(args.backbone);
const development = imagesDir && labelsFile ? await readLabels(labelsFile, imagesDir, LABELS).catch((err: unknown) => fail(`${(err as Error).message}\n${NEEDS}`)) : [];
const sources = await trainingSet(development, captured?.photos ?? [], heldOutShare);
if (captured) console.log(formatCaptureSources(LABELS, captured, sources, heldOutShare));
else console.log(`train: no labelled captures (${args['no-captures'] ? '--no-captures' : `no capture database in ${args.captures}`})`);
const images = sources.images;
if (images.length < folds) fail(`${images.length} labelled photos to train on: ${folds}-fold cross-validation needs at least ${folds}.\n${NEEDS}`);
const labels = images.map((i) => i.label);
const counts = Object.fromEntries(LABELS.map((l, c) => [l, labels.filter((x) => x === c).length]));
console.log(`train: ${images.length} images (${LABELS.map((l) => `${counts[l]} ${l}`).join(', ')}), resize ${resize}, flip ${flip}`);
for (const l of LABELS.filter((l) => counts[l] === 0)) console.warn(`train: warning: no photo labelled ${l}: the new head will hardly ever answer it`);

const started = performance.now();
const extractor = encodeModel(buildFeatureExtractor(decodeModel(backboneBytes)));
const features = await extractFeatures(extractor, images.map((i) => i.file), {
  input: backboneInput,
  flip,
  onImage: (done, total) => {
    if (done % 20 === 0 || done === total) process.stderr.write(`  features ${done}/${total}\n`);
  },
});
console.log(`train: features in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const selection = selectL2(features, labels, LABELS.length, L2_GRID, { flip, folds, seed, repeats });
console.log(`\n${folds}-fold CV accuracy by L2 penalty (mean of ${repeats} fold assignments, seeds ${seed}..${seed + repeats - 1}):`);
for (const { l2, cv, meanAccuracy } of selection.results) {
  console.log(
    `  l2 ${String(l2).padEnd(6)} accuracy ${meanAccuracy.toFixed(4)}  (seed ${seed}: ${cv.accuracy.toFixed(4)}, log-loss ${cv.logLoss.toFixed(4)})${l2 === selection.l2 ? '  <- chosen' : ''}`,
  );
}
const chosen = selection.results.find((r) => r.l2 === selection.l2)!;
const nested = nestedCrossValidate(features, labels, LABELS.length, L2_GRID, { flip, folds, seed, repeats });
console.log(`\nnested ${folds}-fold CV (penalty chosen inside each training fold; penalties ${nested.chosen.join(', ')}):`);
console.log(`  accuracy ${nested.accuracy.toFixed(4)} (${nested.confusion.reduce((s, row, i) => s + row[i]!, 0)}/${images.length})`);
console.log(formatConfusion(LABELS, nested.confusion).replace(/^/gm, '  '));

const head = trainHead(features, labels, labels.map((_, i) => i), LABELS.length, { l2: selection.l2, flip });
const file = toHeadFile(head, {
  labels: [...LABELS],
  backbone: {
    file: path.basename(args.backbone),
    sha256: createHash('sha256').update(backboneBytes).digest('hex'),
    features: head.model.features,
  },
  resize,
  training: {
    images: images.length,
    perClass: counts,
    l2: selection.l2,
    l2Grid: L2_GRID,
    flip,
    folds,
    seed,
    repeats,
    cvAccuracy: chosen.meanAccuracy,
    nestedCvAccuracy: nested.accuracy,
    confusion: nested.confusion,
    ...(captured ? { captures: capturesTraining(LABELS, sources, heldOutShare) } : {}),
  },
});

// The served model of this head, checked as the service checks a version, with its golden examples.
const composed = catdogModel(decodeModel(backboneBytes), file);
// The held-out gate: not worse than the serving version on the captures never trained on.
const gate = { repository: args.repository, model: args.model, labels: LABELS };
const verdict = await heldOutGate(composed, sources.heldOut, gate);
if (captured) console.log(`\n${formatVerdict(verdict, gate)}`.trimEnd());
if (!verdict.publish) {
  console.error(`\ntrain: not published: ${verdict.reason}. Nothing was written.`);
  console.error('train: check the labels of the captures (GET /captures?labelled=true), label more of them, then train again.');
  process.exit(NOT_PUBLISHED);
}
if (captured) console.log(`train: ${verdict.reason}`);
if (args.out) {
  await writeHeadFile(args.out, file);
  console.log(`train: wrote ${args.out}`);
}

const golden = await chooseGolden(composed, images, LABELS);
const manifest = versionManifest(composed.onnx, composed.manifest, golden);
const published = await publishNextVersion(args.repository, args.model, new Map<string, Uint8Array | string>([
  [MODEL_FILE, composed.onnx],
  ['head.json', headFileText(file)],
  ...golden.map((g): [string, Uint8Array] => [g.file, g.bytes]),
  ['manifest.json', manifestText(manifest)],
]));
console.log(
  `\ntrain: published ${args.model} version ${published.version} in ${published.dir} ` +
    `(nested ${folds}-fold CV accuracy ${nested.accuracy.toFixed(4)}; golden examples: ${golden.map((g) => `${path.basename(g.file)} ${g.label}`).join(', ')})`,
);
console.log(
  `train: a service polling the repository (make run) serves it within MODEL_POLL_INTERVAL_MS; otherwise ` +
    `POST /v2/repository/models/${args.model}/load (scope manage::models), or restart it`,
);
