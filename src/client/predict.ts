/**
 * The `predict` command: classifies each image file with the service, through the generated
 * client.
 *
 *   predict IMAGE... [--url URL] [--token TOKEN] [--json]
 *
 * One line per file: `cat.png: Cat (0.931)`, or with `--json` the service's JSON answer with the
 * file name added (one JSON object per line). Exit status: 0 when every file was classified,
 * 1 when one was refused or could not be sent, 2 on a usage error.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { classifyImage, createClassifierClient, type Prediction, type Problem } from './client.js';

/** Where {@link predict} writes, and what it may read instead of the process. */
export interface PredictIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** `PREDICT_URL` and `PREDICT_TOKEN`, the defaults of `--url` and `--token`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly fetch?: (input: Request) => Promise<Response>;
}

/** Default of `--url`: the service as `make run` starts it. */
const defaultUrl = 'http://localhost:8080';

const usage = `usage: predict IMAGE... [--url URL] [--token TOKEN] [--json]

Classifies each image as Cat, Dog or Other with the service at URL.

  --url URL      the service (default: $PREDICT_URL or ${defaultUrl})
  --token TOKEN  OAuth 2.0 access token, sent as "Authorization: Bearer" (default: $PREDICT_TOKEN)
  --json         print the service's JSON answer, one object per line, with "file" added
  -h, --help     this text
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
  const env = io.env ?? {};
  const token = values.token ?? env.PREDICT_TOKEN;
  const client = createClassifierClient({
    baseUrl: values.url ?? env.PREDICT_URL ?? defaultUrl,
    ...(token ? { token } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });

  let failures = 0;
  for (const file of files) {
    const line = await classifyFile(client, file);
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
  | { ok: false; body: Problem | { error: string }; message: string };

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
    if (data) return { ok: true, body: data };
    const problem = error as Problem | undefined;
    const message = problem?.code
      ? `${response.status} ${problem.code}: ${problem.detail ?? problem.title}`
      : `HTTP ${response.status}`;
    return { ok: false, body: problem ?? { error: message }, message };
  } catch (err) {
    // fetch rejects only when no answer came: refused connection, DNS, TLS.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const message = `no answer from the service: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
    return { ok: false, body: { error: message }, message };
  }
}

function describe(p: Prediction): string {
  const index = p.labels?.indexOf(p.prediction) ?? -1;
  const probability = index >= 0 ? p.values[index] : undefined;
  return probability === undefined ? p.prediction : `${p.prediction} (${probability.toFixed(3)})`;
}
