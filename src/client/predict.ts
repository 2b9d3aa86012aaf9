/**
 * The `predict` command: classifies each image file with the service, through the generated
 * client.
 *
 *   predict IMAGE... [--url URL] [--token TOKEN] [--json] [--protocol upload|v2|grpc] [--model NAME] [--grpc-address HOST:PORT]
 *
 * One line per file: `cat.png: Cat (0.931)`, or with `--json` the service's JSON answer with the
 * file name added (one JSON object per line). `--protocol upload` (the default) sends each file to
 * `POST /upload`; `--protocol v2` sends them all in one Open Inference Protocol request, as one
 * binary batch; `--protocol grpc` in one gRPC `ModelInfer` call (`raw_input_contents`). Exit status: 0 when every file was classified, 1 when one was refused or could
 * not be sent, 2 on a usage error.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { classifyImage, createClassifierClient, type ClassifierClient, type Prediction, type Problem } from './client.js';
import { createGrpcClient } from './grpc.js';
import { DEFAULT_MODEL_NAME, inferImages, modelMetadata, predictionsOf, type V2Error } from './v2.js';

/** Where {@link predict} writes, and what it may read instead of the process. */
export interface PredictIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** `PREDICT_URL`, `PREDICT_TOKEN` and `PREDICT_GRPC_ADDRESS`, the defaults of `--url`, `--token` and `--grpc-address`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly fetch?: (input: Request) => Promise<Response>;
}

/** Default of `--url`: the service as `make run` starts it. */
const defaultUrl = 'http://localhost:8080';
/** Default of `--grpc-address`: its gRPC server (GRPC_PORT). */
const defaultGrpcAddress = 'localhost:8081';

const usage = `usage: predict IMAGE... [--url URL] [--token TOKEN] [--json] [--protocol upload|v2|grpc] [--model NAME] [--grpc-address HOST:PORT]

Classifies each image as Cat, Dog or Other with the service at URL.

  --url URL        the service (default: $PREDICT_URL or ${defaultUrl})
  --token TOKEN    OAuth 2.0 access token, sent as "Authorization: Bearer" (default: $PREDICT_TOKEN)
  --json           print the service's JSON answer, one object per line, with "file" added
  --protocol NAME  upload: one POST /upload per image (default); v2: all images in one
                   Open Inference Protocol request, as one binary batch; grpc: all images
                   in one gRPC ModelInfer call
  --model NAME     with --protocol v2 or grpc, the model (default: ${DEFAULT_MODEL_NAME})
  --grpc-address HOST:PORT
                   with --protocol grpc, the gRPC server (default: $PREDICT_GRPC_ADDRESS or ${defaultGrpcAddress})
  -h, --help       this text
`;

/** Runs the command with `argv` (without `node` and the script); resolves to the exit status. */
export async function predict(argv: readonly string[], io: PredictIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean', default: false },
        protocol: { type: 'string', default: 'upload' },
        model: { type: 'string', default: DEFAULT_MODEL_NAME },
        'grpc-address': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.stderr.write(`predict: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals: files } = parsed;
  if (values.help) {
    io.stdout.write(usage);
    return 0;
  }
  if (files.length === 0) {
    io.stderr.write(`predict: no image given\n${usage}`);
    return 2;
  }
  if (values.protocol !== 'upload' && values.protocol !== 'v2' && values.protocol !== 'grpc') {
    io.stderr.write(`predict: --protocol is upload, v2 or grpc, not ${values.protocol}\n${usage}`);
    return 2;
  }
  const env = io.env ?? {};
  const token = values.token ?? env.PREDICT_TOKEN;
  const client = createClassifierClient({
    baseUrl: values.url ?? env.PREDICT_URL ?? defaultUrl,
    ...(token ? { token } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });

  const lines = values.protocol === 'v2'
    ? await inferFiles(client, files, values.model)
    : values.protocol === 'grpc'
      ? await inferFilesGrpc(values['grpc-address'] ?? env.PREDICT_GRPC_ADDRESS ?? defaultGrpcAddress, token, files, values.model)
      : undefined;
  let failures = 0;
  for (const [i, file] of files.entries()) {
    const line = lines ? lines[i]! : await classifyFile(client, file);
    if (!line.ok) failures++;
    if (values.json) {
      io.stdout.write(JSON.stringify({ file, ...line.body }) + '\n');
    } else if (line.ok) {
      io.stdout.write(`${file}: ${describe(line.body)}\n`);
    } else {
      io.stderr.write(`${file}: ${line.message}\n`);
    }
  }
  return failures ? 1 : 0;
}

type Line =
  | { ok: true; body: Prediction }
  | { ok: false; body: Problem | V2Error | { error: string }; message: string };

/** Why no answer came: refused connection, DNS, TLS (fetch rejects only then). */
function unanswered(err: unknown): Line {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const message = `no answer from the service: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
  return { ok: false, body: { error: message }, message };
}

/** A refusal, as one line. */
function refused(response: Response, problem: Problem | V2Error | undefined): Line {
  const message = problem?.code ? `${response.status} ${problem.code}: ${problem.detail ?? problem.title}` : `HTTP ${response.status}`;
  return { ok: false, body: problem ?? { error: message }, message };
}

/**
 * Every readable file in one V2 request (`--protocol v2`), one line per file in order. The
 * labels come from the model's metadata, so that each line says the probability of its label.
 */
async function inferFiles(client: ClassifierClient, files: readonly string[], model: string): Promise<Line[]> {
  const read = await Promise.all(files.map(async (file) => readFile(file).catch((err: NodeJS.ErrnoException) => err)));
  const lines: (Line | undefined)[] = read.map((r) => {
    if (!(r instanceof Error)) return undefined;
    const message = `cannot read: ${r.code ?? r.message}`;
    return { ok: false, body: { error: message }, message };
  });
  const images = read.filter((r): r is Exclude<typeof r, Error> => !(r instanceof Error));
  if (images.length === 0) return lines as Line[];
  let answer: Line[];
  try {
    const metadata = await modelMetadata(client, model);
    if (!metadata.data) {
      answer = images.map(() => refused(metadata.response, metadata.error));
    } else {
      const labels = metadata.data.labels;
      const { data, error, response } = await inferImages(client, images, { model });
      answer = data
        ? predictionsOf(data).map((p) => ({
          ok: true as const,
          body: { prediction: p.label, values: [...p.probabilities], labels: [...labels], model: `${data.model_name}/${data.model_version}` },
        }))
        : images.map(() => refused(response, error));
    }
  } catch (err) {
    answer = images.map(() => unanswered(err));
  }
  let next = 0;
  return lines.map((line) => line ?? answer[next++]!);
}

/** Every readable file in one gRPC `ModelInfer` call (`--protocol grpc`), one line per file in order. */
async function inferFilesGrpc(address: string, token: string | undefined, files: readonly string[], model: string): Promise<Line[]> {
  const read = await Promise.all(files.map(async (file) => readFile(file).catch((err: NodeJS.ErrnoException) => err)));
  const lines: (Line | undefined)[] = read.map((r) => {
    if (!(r instanceof Error)) return undefined;
    const message = `cannot read: ${r.code ?? r.message}`;
    return { ok: false, body: { error: message }, message };
  });
  const images = read.filter((r): r is Exclude<typeof r, Error> => !(r instanceof Error));
  if (images.length === 0) return lines as Line[];
  const client = createGrpcClient({ address, ...(token ? { token } : {}) });
  let answer: Line[];
  try {
    const { modelName, modelVersion, predictions } = await client.inferImages(images, { model });
    answer = predictions.map((p) => ({
      ok: true as const,
      body: { prediction: p.label, values: [...p.probabilities], labels: [...p.labels], model: `${modelName}/${modelVersion}` },
    }));
  } catch (err) {
    const { code, details, metadata } = err as { code?: number; details?: string; metadata?: { get(key: string): unknown[] } };
    const problem = metadata?.get('problem-code')[0];
    const message = code === undefined
      ? `no answer from the service: ${(err as Error).message}`
      : `gRPC ${code}${typeof problem === 'string' ? ` ${problem}` : ''}: ${details}`;
    answer = images.map(() => ({ ok: false, body: { error: message }, message }));
  } finally {
    client.close();
  }
  let next = 0;
  return lines.map((line) => line ?? answer[next++]!);
}

async function classifyFile(client: ReturnType<typeof createClassifierClient>, file: string): Promise<Line> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const message = `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    return { ok: false, body: { error: message }, message };
  }
  try {
    const { data, error, response } = await classifyImage(client, bytes, { filename: path.basename(file) });
    return data ? { ok: true, body: data } : refused(response, error);
  } catch (err) {
    return unanswered(err);
  }
}

function describe(p: Prediction): string {
  const index = p.labels?.indexOf(p.prediction) ?? -1;
  const probability = index >= 0 ? p.values[index] : undefined;
  return probability === undefined ? p.prediction : `${p.prediction} (${probability.toFixed(3)})`;
}
