/**
 * The test inputs that are not in the repository: public documents and data that some tests read
 * from a folder named by an environment variable. Where one is missing, those tests are skipped,
 * and the run ends with one summary (`mochaGlobalTeardown` below, registered in .mocharc.cjs) of
 * what was skipped, why, and where each input comes from.
 *
 * `make` sets the variables to a local copy when it finds one; elsewhere, download the public
 * sources named below and set the variable:
 *
 *   TRAIN_DATA=~/photos CONFORMANCE_DIR=~/standards make test
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootDir } from '../../src/spec.js';

/** An input a test may need. */
interface ExternalInput {
  /** The environment variable naming its folder. */
  readonly variable: string;
  /** What it is, for a person who does not have it. */
  readonly what: string;
  /** Where its public source is. */
  readonly source: string;
}

const inputs = {
  photos: {
    variable: 'TRAIN_DATA',
    what: 'labelled photos: a folder with labels.json ([{"file", "label": "cat"|"dog"|"other"}]) and images/ (the MLOps course\'s 85 development photos, or your own)',
    source: 'the MLOps course\'s labelled Cat/Dog/Other photos (Apache-2.0), or any photos you label the same way',
  },
  conformance: {
    variable: 'CONFORMANCE_DIR',
    what: 'the published standards, one folder each: oip/ (open_inference_rest.yaml, open_inference_grpc.proto), kserve/ (the CRDs), triton/, triton-proto/, label-studio-ml/',
    source: 'github.com/kserve/open-inference-protocol (specification/protocol/), github.com/kserve/kserve (config/crd/full/), github.com/triton-inference-server/common (protobuf/) and server (docs/protocol/), github.com/HumanSignal/label-studio-ml-backend',
  },
} as const satisfies Record<string, ExternalInput>;

/** The name of an input. */
export type InputName = keyof typeof inputs;

/** The file the skips of this run are written to (one JSON line each), shared by mocha's workers. */
const SKIPS_FILE = 'CDO_TEST_SKIPS_FILE';

/** The folder of `name` (absolute), or `undefined` when its variable is unset or names nothing. */
export function locate(name: InputName, ...inside: string[]): string | undefined {
  const value = process.env[inputs[name].variable];
  if (!value) return undefined;
  const dir = path.resolve(rootDir, value, ...inside);
  return existsSync(dir) ? dir : undefined;
}

/**
 * The folder of `name` (or the file `inside` it); skips the calling test or hook, recording why,
 * when it is not there.
 */
export function need(context: Mocha.Context, name: InputName, ...inside: string[]): string {
  const found = locate(name, ...inside);
  if (found) return found;
  const input = inputs[name];
  const value = process.env[input.variable];
  const why = value ? `${path.join(value, ...inside)} not found` : `${input.variable} is not set`;
  const suite = context.currentTest?.parent?.fullTitle() ?? context.test?.parent?.fullTitle() ?? 'a suite';
  const file = process.env[SKIPS_FILE];
  if (file) appendFileSync(file, `${JSON.stringify({ suite, input: name, why })}\n`);
  context.skip();
}

/** Mocha's global setup (once, before any worker starts): the file the skips go to. */
export function mochaGlobalSetup(): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cdo-skips-'));
  process.env[SKIPS_FILE] = path.join(dir, 'skips.jsonl');
}

/** Mocha's global teardown (once, after every worker): the summary of what was skipped. */
export function mochaGlobalTeardown(): void {
  const file = process.env[SKIPS_FILE];
  if (!file || !existsSync(file)) return;
  const skips = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { suite: string; input: InputName; why: string });
  rmSync(path.dirname(file), { recursive: true, force: true });
  const byInput = new Map<InputName, { why: string; suites: Set<string> }>();
  for (const skip of skips) {
    const entry = byInput.get(skip.input) ?? { why: skip.why, suites: new Set<string>() };
    entry.suites.add(skip.suite);
    byInput.set(skip.input, entry);
  }
  const lines = ['', 'Skipped for want of inputs that are not in the repository:'];
  for (const [name, { why, suites }] of byInput) {
    const input = inputs[name];
    lines.push(`- ${why}: ${input.what}.`);
    lines.push(`  From: ${input.source}; then set ${input.variable}=<folder>.`);
    for (const suite of [...suites].sort()) lines.push(`    skipped: ${suite}`);
  }
  console.log(lines.join('\n'));
}
