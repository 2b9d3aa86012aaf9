/**
 * The gRPC load generator of `make bench-grpc`: a closed loop of `ModelInfer` calls at a given
 * concurrency, each with `--batch` images (cycling through IMAGE_DIR) as `raw_input_contents`, the
 * way Triton's clients send them, on `--channels` channels (HTTP/2 connections; 1 by default, as a
 * gRPC client keeps one), with a lean client on `node:http2` (`grpc-h2.ts`, the default, as `load.ts`
 * has its own HTTP/1.1 client) or grpc-js's (`--client grpc-js`: a real client's cost, ≈ 1.6–1.9 ms
 * of CPU per call on the server's cores); both decode every answer with the published proto;
 * prints one JSON line in the load generator's format (`load.ts`'s LoadResult). Like `load.ts`,
 * which builds each HTTP request's bytes once, it encodes each request message once: what it
 * measures is the server, not the client's protobuf encoding on the same cores.
 *
 * @example node .bench/build/scripts/bench/grpc-load.js --address 127.0.0.1:8081 -c 16 -d 10 --batch 1 IMAGE_DIR
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, credentials, Metadata, type MethodDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { frameMessage, GrpcH2Channel } from './grpc-h2.js';
import { rootDir } from '../../src/spec.js';
import { loadImages } from './images.js';
import type { LoadResult } from './load.js';
import { loadResult } from './load-result.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    address: { type: 'string' },
    concurrency: { type: 'string', short: 'c', default: '1' },
    duration: { type: 'string', short: 'd' },
    requests: { type: 'string', short: 'n' },
    warmup: { type: 'string', default: '0' },
    batch: { type: 'string', default: '1' },
    channels: { type: 'string', default: '1' },
    token: { type: 'string' },
    client: { type: 'string', default: 'h2' },
  },
});
const address = opt.address ?? '';
if (!/^(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(address)) throw new Error('loopback targets only: --address 127.0.0.1:PORT');
if (opt.client !== 'h2' && opt.client !== 'grpc-js') throw new Error('--client h2 (the default) or grpc-js');
const concurrency = Number(opt.concurrency);
const batch = Number(opt.batch);
const durationMs = opt.duration ? Number(opt.duration) * 1000 : Infinity;
const maxRequests = opt.requests ? Number(opt.requests) : Infinity;
if (!(concurrency >= 1) || !(batch >= 1) || (durationMs === Infinity && maxRequests === Infinity)) {
  throw new Error('usage: grpc-load --address HOST:PORT -c N (-d SECONDS | -n REQUESTS) [--warmup N] [--batch N] IMAGE_DIR');
}

interface Answer {
  model_version: string;
  raw_output_contents: Buffer[];
}
const packageDefinition = loadSync('grpc_service.proto', {
  keepCase: true, longs: Number, enums: String, defaults: true, includeDirs: [path.join(rootDir, 'proto', 'triton')],
});
const modelInfer = (packageDefinition['inference.GRPCInferenceService'] as Record<string, MethodDefinition<object, Answer>>).ModelInfer!;
const channelCount = Math.max(1, Number(opt.channels));
const token: Record<string, string> = opt.token ? { authorization: `Bearer ${opt.token}` } : {};
/** A unary call on channel `i`: the answer's message, or an error kind. */
type Caller = (request: Buffer) => Promise<{ error?: string; answer?: Answer }>;
let callers: Caller[];
let ready: Promise<unknown>;
let closeAll: () => void;
if (opt.client === 'grpc-js') {
  /** One client per channel, each on a connection of its own (a local subchannel pool). */
  const clients = Array.from({ length: channelCount }, () => new Client(address, credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
    'grpc.use_local_subchannel_pool': 1,
  }));
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(token)) metadata.set(key, value);
  callers = clients.map((client) => (request) => new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Answer>(modelInfer.path, (encoded) => encoded, modelInfer.responseDeserialize, request, metadata, (err, value) => {
      resolve(err ? { error: `gRPC ${err.code}` } : { answer: value! });
    });
  }));
  ready = Promise.all(clients.map((client) => new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 30_000, (err) => (err ? reject(err) : resolve())))));
  closeAll = () => clients.forEach((client) => client.close());
} else {
  const channels = Array.from({ length: channelCount }, () => new GrpcH2Channel(address, token));
  callers = channels.map((channel) => async (request) => {
    const { message, error } = await channel.unary(modelInfer.path, request);
    return message ? { answer: modelInfer.responseDeserialize(message) } : { error: error ?? 'no message' };
  });
  ready = Promise.all(channels.map((channel) => channel.ready()));
  closeAll = () => channels.forEach((channel) => channel.close());
}

const images = await loadImages(positionals[0]!);
/** One request per starting image, built once: `batch` images as one raw BYTES tensor. */
const requests = images.map((_, first) => {
  const chosen = Array.from({ length: batch }, (_, i) => images[(first * batch + i) % images.length]!.bytes);
  const tensor = Buffer.concat(chosen.flatMap((bytes) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return [length, bytes];
  }));
  const message = modelInfer.requestSerialize({
    model_name: 'catdog',
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [batch] }],
    outputs: [{ name: 'probabilities' }, { name: 'label' }],
    raw_input_contents: [tensor],
  });
  // grpc-js frames the message itself; the lean client sends it framed once here.
  return opt.client === 'grpc-js' ? message : frameMessage(message);
});

let next = 0;
interface Sent {
  readonly ms: number;
  readonly error?: string;
  readonly version?: string;
}

async function send(call: Caller): Promise<Sent> {
  const request = requests[next++ % requests.length]!;
  const started = performance.now();
  const { answer, error } = await call(request);
  const ms = performance.now() - started;
  if (error !== undefined) return { ms, error };
  // Two raw outputs; the labels are `batch` BYTES elements.
  if (answer?.raw_output_contents.length !== 2) return { ms, error: 'no outputs' };
  return { ms, version: answer.model_version };
}

async function closedLoop(until: () => boolean, record: (r: Sent) => void): Promise<void> {
  await Promise.all(Array.from({ length: concurrency }, async (_, i) => {
    const call = callers[i % callers.length]!;
    while (!until()) record(await send(call));
  }));
}

await ready;
let warm = Number(opt.warmup);
await closedLoop(() => warm-- <= 0, () => {});

const latencies: number[] = [];
const errorKinds: Record<string, number> = {};
const versions: Record<string, number> = {};
let issued = 0;
const cpuBefore = process.cpuUsage();
const start = performance.now();
let end = start;
await closedLoop(
  () => performance.now() - start >= durationMs || issued++ >= maxRequests,
  ({ ms, error, version }) => {
    end = performance.now();
    if (error) errorKinds[error] = (errorKinds[error] ?? 0) + 1;
    else latencies.push(ms);
    versions[version ?? ''] = (versions[version ?? ''] ?? 0) + 1;
  },
);
const cpu = process.cpuUsage(cpuBefore);
closeAll();

const result: LoadResult = loadResult({ concurrency, startMs: start, endMs: end, latencies, errorKinds, cpu, imagesPerRequest: batch, versions });
process.stdout.write(`${JSON.stringify(result)}\n`);
