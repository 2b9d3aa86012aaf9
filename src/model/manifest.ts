/**
 * The model manifest: everything the service must know to serve an ONNX classifier,
 * so that serving another model needs a manifest and no code.
 *
 * Validated at start-up against {@link manifestSchema}; any problem stops start-up.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';

/** JSON Schema of a manifest file. */
export const manifestSchema = {
  $id: 'https://cat-dog-other/model-manifest.schema.json',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'file', 'sha256', 'input', 'output', 'labels'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1, description: 'Model name, reported in responses and metrics' },
    description: { type: 'string' },
    file: { type: 'string', minLength: 1, description: 'ONNX file, relative to the manifest' },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the ONNX file, hex' },
    input: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'layout', 'width', 'height'],
      properties: {
        name: { type: 'string', minLength: 1 },
        layout: { enum: ['NCHW', 'NHWC'] },
        width: { type: 'integer', minimum: 1, maximum: 4096 },
        height: { type: 'integer', minimum: 1, maximum: 4096 },
        channels: { enum: ['RGB', 'BGR'], default: 'RGB' },
        resize: {
          enum: ['fill', 'cover', 'contain'],
          default: 'fill',
          description: 'fill: stretch to size; cover: scale then centre-crop; contain: scale then pad',
        },
        scale: { type: 'number', default: 1, description: 'Multiplies each 0..255 pixel value first' },
        mean: { $ref: '#/$defs/perChannel', description: 'Subtracted after scaling (RGB order)' },
        std: { $ref: '#/$defs/perChannel', description: 'Divides after subtracting the mean (RGB order)' },
      },
    },
    output: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'activation'],
      properties: {
        name: { type: 'string', minLength: 1 },
        activation: { enum: ['softmax', 'sigmoid', 'none'] },
      },
    },
    labels: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', minLength: 1 },
      description: 'Served labels, in the order of `values` in responses',
    },
    grouping: {
      type: 'object',
      additionalProperties: false,
      required: ['classes', 'groups', 'rest'],
      description: 'Maps the model’s own classes onto the served labels by summing probabilities',
      properties: {
        classes: { type: 'integer', minimum: 1, description: 'Number of the model’s output classes' },
        groups: {
          type: 'object',
          description: 'Served label → inclusive ranges [first, last] of model class indices',
          additionalProperties: {
            type: 'array',
            minItems: 1,
            // The tuple form of `items` (rather than one item schema and two bounds) gives the
            // derived type `[number, number]`; it accepts the same arrays.
            items: {
              type: 'array',
              minItems: 2,
              maxItems: 2,
              items: [{ type: 'integer', minimum: 0 }, { type: 'integer', minimum: 0 }],
            },
          },
        },
        rest: { type: 'string', description: 'Served label that receives every class not in a group' },
      },
    },
    golden: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      description:
        'Golden examples: images (paths relative to the manifest) with the label the model must answer for each; a model repository refuses a version that answers otherwise',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['file', 'label'],
        properties: {
          file: { type: 'string', minLength: 1 },
          label: { type: 'string', minLength: 1 },
        },
      },
    },
    reference: {
      type: 'object',
      additionalProperties: false,
      required: ['predicted', 'answers'],
      description:
        'The training reference the drift metric compares the answers with (docs/evidence.md): the share of each served label among the model’s predictions on held-out training photos',
      properties: {
        predicted: {
          type: 'object',
          description: 'Served label → share of the predictions (0..1, summing to 1)',
          additionalProperties: { type: 'number', minimum: 0, maximum: 1 },
        },
        answers: { type: 'integer', minimum: 1, description: 'How many predictions the shares were measured on' },
        source: { type: 'string', description: 'How they were measured' },
      },
    },
    decision: {
      description: 'How the prediction is chosen from the served probabilities (default: argmax)',
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['rule'],
          properties: { rule: { const: 'argmax' } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['rule', 'among', 'minSum', 'otherwise'],
          properties: {
            rule: { const: 'threshold' },
            among: { type: 'array', minItems: 1, items: { type: 'string' } },
            minSum: { type: 'number', minimum: 0, maximum: 1 },
            otherwise: { type: 'string' },
          },
          description:
            'If the probabilities of `among` sum to at least `minSum`, the largest of them; otherwise `otherwise`',
        },
      ],
    },
  },
  $defs: {
    perChannel: {
      type: 'array',
      minItems: 3,
      maxItems: 3,
      items: [{ type: 'number' }, { type: 'number' }, { type: 'number' }],
    },
  },
} as const;

/** A manifest file as {@link manifestSchema} describes it, once validated (defaults applied). */
type ManifestFile = FromSchema<typeof manifestSchema>;

/** `T` with every member, at every depth, read-only (arrays and tuples included). */
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/**
 * A validated manifest, as {@link parseManifest} returns it: the file's own members with the
 * schema's defaults, `file` and the golden examples' files resolved to absolute paths, and the defaults the schema does not
 * state filled in (`input.mean` [0, 0, 0], `input.std` [1, 1, 1], `decision` argmax).
 */
export type Manifest = DeepReadonly<
  Omit<ManifestFile, '$schema' | 'input' | 'decision'> & {
    readonly input: Required<ManifestFile['input']>;
    readonly decision: NonNullable<ManifestFile['decision']>;
  }
>;

/**
 * Why a model cannot be served: its manifest cannot be read or is invalid (`manifest.ts`), or
 * the ONNX file it names cannot be read, does not match its SHA-256, cannot be loaded by
 * onnxruntime, or does not have the input and output the manifest describes (`classifier.ts`).
 */
export type ManifestErrorCode =
  | 'manifest-unreadable'
  | 'manifest-invalid'
  | 'model-unreadable'
  | 'model-checksum-mismatch'
  | 'model-unloadable'
  | 'model-mismatch';

/** A model that cannot be served; the message names the file and every problem. */
export class ManifestError extends Error {
  readonly code: ManifestErrorCode;
  /** Each problem found, as the message lists them. */
  readonly problems: readonly string[];
  constructor(code: ManifestErrorCode, file: string, problems: readonly string[], options?: ErrorOptions) {
    super(`model manifest ${file}: ${problems.join('; ')}`, options);
    this.name = 'ManifestError';
    this.code = code;
    this.problems = problems;
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile<ManifestFile>(manifestSchema);

/** Checks what the schema cannot: that labels, groups and rules refer to each other. */
function crossCheck(m: Manifest): string[] {
  const problems: string[] = [];
  const labels = new Set(m.labels);
  if (m.grouping) {
    for (const [label, ranges] of Object.entries(m.grouping.groups)) {
      if (!labels.has(label)) problems.push(`grouping.groups.${label} is not one of labels`);
      for (const [first, last] of ranges) {
        if (first > last || last >= m.grouping.classes) {
          problems.push(`grouping.groups.${label} range [${first}, ${last}] is outside 0..${m.grouping.classes - 1}`);
        }
      }
    }
    if (!labels.has(m.grouping.rest)) problems.push('grouping.rest is not one of labels');
  }
  for (const [i, example] of (m.golden ?? []).entries()) {
    if (!labels.has(example.label)) problems.push(`golden[${i}].label ${example.label} is not one of labels`);
  }
  if (m.reference) {
    const shares = Object.entries(m.reference.predicted);
    for (const [label] of shares) if (!labels.has(label)) problems.push(`reference.predicted.${label} is not one of labels`);
    const sum = shares.reduce((s, [, share]) => s + share, 0);
    if (Math.abs(sum - 1) > 1e-6) problems.push(`reference.predicted sums to ${sum}, not 1`);
  }
  if (m.decision.rule === 'threshold') {
    for (const l of [...m.decision.among, m.decision.otherwise]) {
      if (!labels.has(l)) problems.push(`decision refers to ${l}, not one of labels`);
    }
  }
  return problems;
}

/** Parses and validates a manifest object; `manifestPath` resolves the relative `file`. */
export function parseManifest(value: unknown, manifestPath: string): Manifest {
  const data: unknown = structuredClone(value);
  if (!validate(data)) {
    throw new ManifestError(
      'manifest-invalid',
      manifestPath,
      (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`),
    );
  }
  const dir = path.dirname(manifestPath);
  const manifest: Manifest = {
    ...data,
    file: path.resolve(dir, data.file),
    ...(data.golden ? { golden: data.golden.map((example) => ({ ...example, file: path.resolve(dir, example.file) })) } : {}),
    input: { ...data.input, mean: data.input.mean ?? [0, 0, 0], std: data.input.std ?? [1, 1, 1] },
    decision: data.decision ?? { rule: 'argmax' },
  };
  const problems = crossCheck(manifest);
  if (problems.length > 0) throw new ManifestError('manifest-invalid', manifestPath, problems);
  return Object.freeze(manifest);
}

/** Reads, parses and validates the manifest at `manifestPath`. */
export async function loadManifest(manifestPath: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (err) {
    throw new ManifestError('manifest-unreadable', manifestPath, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`], {
      cause: err,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ManifestError('manifest-invalid', manifestPath, [`is not JSON (${(err as Error).message})`], { cause: err });
  }
  return parseManifest(value, path.resolve(manifestPath));
}
