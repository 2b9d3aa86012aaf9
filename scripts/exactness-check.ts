/**
 * Whether the int8 forms answer exactly on *this* CPU: for the Zoo's and the 7-bit weights as
 * stored (u8s8 kernels) and re-typed as uint8 (u8u8), how many photos' Cat/Dog/Other
 * probabilities equal the exact float32 reference bit for bit. Meant to be run on CPUs the
 * test machines are not, or under an emulated one, e.g. an x86 without VNNI:
 *
 *   qemu-x86_64 -cpu Haswell "$(command -v node)" --import tsx scripts/exactness-check.ts \
 *       --data ../shared/data/cats-dogs-others --images 16
 *
 * (Debian's qemu-user; slow: a few minutes.) On such a CPU the Zoo's u8s8 form is expected to
 * differ and the 7-bit one not (docs/model.md).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hostCpuFeatures, signedInt8IsExact } from '../src/model/int8/kernels.js';
import { decodeModel } from '../src/model/onnx/codec.js';
import { createPreprocessor } from '../src/model/image/preprocess.js';
import { formsOf, identicalRows, oneThreadSession, runRows } from '../tools/int8-forms.js';
import { BACKBONE_7BIT_FILE, MOBILENETV2_INPUT } from '../tools/training/backbone.js';
import { PROBABILITIES_OUTPUT } from '../tools/training/compose.js';
import { readHeadFile } from '../tools/training/head-file.js';
import { readLabels } from '../tools/training/labels.js';

const { values: args } = parseArgs({
  options: { data: { type: 'string' }, models: { type: 'string', default: 'resources/models' }, images: { type: 'string', default: '16' } },
});
if (!args.data) {
  console.error('exactness-check: give --data DIR (labelled photos: labels.json and images/)');
  process.exit(2);
}
const head = await readHeadFile(path.join(args.models, 'head.json'));
const images = (await readLabels(path.join(args.data, 'labels.json'), path.join(args.data, 'images'), ['Cat', 'Dog', 'Other'])).slice(0, Number(args.images));
const preprocess = createPreprocessor({ ...MOBILENETV2_INPUT, resize: head.resize }, { maxImagePixels: 100_000_000 });
const photos: Float32Array[] = [];
for (const image of images) photos.push(await preprocess(await readFile(image.file)));

const argmax = (row: Float32Array): number => row.indexOf(Math.max(...row));
const host = hostCpuFeatures();
const flags = ['avx2', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => host.flags.has(f));
// Under qemu-user, /proc/cpuinfo is the host's; onnxruntime asks CPUID, which qemu emulates.
console.log(`/proc/cpuinfo flags: ${flags.join(' ') || '(none of avx2, avx512bw, avx512_vnni, avx_vnni, amx_int8)'}; u8s8 exact by those: ${signedInt8IsExact(host)}`);
for (const [weights, file] of [['Zoo', 'mobilenetv2-12-int8.onnx'], ['7-bit', BACKBONE_7BIT_FILE]] as const) {
  const forms = formsOf(weights, decodeModel(readFileSync(path.join(args.models, file))), head, true);
  const rows: Float32Array[][] = [];
  for (const form of forms) {
    const session = await oneThreadSession(form.classifier);
    rows.push(await runRows(session, photos, 1, PROBABILITIES_OUTPUT));
    await session.release();
  }
  const exact = rows[forms.findIndex((f) => f.kernels === 'float32')]!;
  forms.forEach((f, i) => {
    if (f.kernels === 'float32') return;
    const sameLabel = rows[i]!.filter((row, k) => argmax(row) === argmax(exact[k]!)).length;
    console.log(`${f.name} (${f.kernels}): ${identicalRows(rows[i]!, exact)}/${photos.length} identical to the exact float32 reference, ${sameLabel}/${photos.length} the same label`);
  });
}
