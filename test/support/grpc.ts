/**
 * gRPC for tests: a client that is not the server's code path (grpc-js with proto-loader,
 * loading the `.proto` files as published, from `CONFORMANCE_DIR`: the Open Inference Protocol's
 * own file for its six RPCs, Triton's for its superset, grpc-health-check's for grpc.health.v1
 * Watch, which Triton's copy of health.proto lacks), and the gRPC server of an in-process service.
 *
 * ```ts
 * const server = await startGrpc(svc.app);
 * const clients = grpcClients(need(this, 'conformance'), server.address);
 * const { value } = expectOk(await unaryCall(clients.oip, 'ModelInfer', request));
 * ```
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { expect } from 'chai';
import type { App } from '../../src/app.js';
import { configDefaults } from '../../src/config/config.js';
import { createGrpcServer, type GrpcServer, type GrpcServerSettings } from '../../src/frontends/grpc/server.js';

/** Options every test client loads the protos with (the protocol's field names). */
const LOADER = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

/** A generic client: methods by name. */
export type AnyClient = Client & Record<string, (...args: unknown[]) => unknown>;

/** Clients of one server address. */
export interface GrpcClients {
  /** Built from the Open Inference Protocol's `open_inference_grpc.proto`. */
  readonly oip: AnyClient;
  /** Built from Triton's `grpc_service.proto` (ModelStreamInfer, the repository RPCs). */
  readonly triton: AnyClient;
  /** Built from Triton's `health.proto` (Check). */
  readonly health: AnyClient;
  /** Built from grpc-health-check's `health.proto` (Check, Watch). */
  readonly healthWatch: AnyClient;
  close(): void;
}

const channelOptions = { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 };

function clientOf(file: string, includeDirs: string[], service: string, address: string): AnyClient {
  const definition = loadPackageDefinition(loadSync(file, { ...LOADER, includeDirs }));
  const Constructor = service.split('.').reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], definition) as new (
    address: string, creds: ReturnType<typeof credentials.createInsecure>, options: object,
  ) => AnyClient;
  return new Constructor(address, credentials.createInsecure(), channelOptions);
}

/** The clients of `address` (`127.0.0.1:port`), from the published protos in `conformanceDir`. */
export function grpcClients(conformanceDir: string, address: string): GrpcClients {
  const triton = path.join(conformanceDir, 'triton-proto');
  const healthPackage = path.dirname(createRequire(import.meta.url).resolve('grpc-health-check/package.json'));
  const clients = {
    oip: clientOf(path.join(conformanceDir, 'oip', 'open_inference_grpc.proto'), [], 'inference.GRPCInferenceService', address),
    triton: clientOf(path.join(triton, 'grpc_service.proto'), [triton], 'inference.GRPCInferenceService', address),
    health: clientOf(path.join(triton, 'health.proto'), [triton], 'grpc.health.v1.Health', address),
    healthWatch: clientOf('health/v1/health.proto', [path.join(healthPackage, 'proto')], 'grpc.health.v1.Health', address),
  };
  return { ...clients, close: () => Object.values(clients).forEach((c) => c.close()) };
}

/** What a unary call gave, and how long it took. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly ms: number }
  | { readonly ok: false; readonly code: number; readonly details: string; readonly trailers: Metadata; readonly ms: number };

/** Options of a call: a bearer token, more metadata, a deadline. */
export interface CallOptions {
  readonly token?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly deadlineMs?: number;
}

/** The call's metadata. */
export function metadataOf(options: CallOptions): Metadata {
  const metadata = new Metadata();
  if (options.token !== undefined) metadata.set('authorization', `Bearer ${options.token}`);
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return metadata;
}

/** Calls `method` of `client`; never rejects. */
export function unaryCall<T = Record<string, unknown>>(client: AnyClient, method: string, request: object, options: CallOptions = {}): Promise<Outcome<T>> {
  const started = performance.now();
  const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve) => {
    client[method]!(request, metadataOf(options), callOptions, (err: ServiceError | null, value: T) => {
      const ms = performance.now() - started;
      resolve(err ? { ok: false, code: err.code, details: err.details, trailers: err.metadata, ms } : { ok: true, value, ms });
    });
  });
}

/** The value of a successful outcome (fails the test with the status otherwise). */
export function expectOk<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) expect.fail(`expected OK, got status ${outcome.code}: ${outcome.details}`);
  return outcome.value;
}

/** Asserts a refusal with `code` and the catalogue's `problem`; returns it. */
export function expectStatus<T>(outcome: Outcome<T>, code: number, problem?: string): Extract<Outcome<T>, { ok: false }> {
  if (outcome.ok) expect.fail(`expected status ${code}, got OK: ${JSON.stringify(outcome.value).slice(0, 200)}`);
  expect(outcome.code, outcome.details).to.equal(code);
  if (problem !== undefined) expect(outcome.trailers.get('problem-code')).to.deep.equal([problem]);
  return outcome;
}

/** The gRPC server of an in-process app, on 127.0.0.1 and an ephemeral port. */
export interface RunningGrpc {
  readonly server: GrpcServer;
  readonly address: string;
  close(): Promise<void>;
}

/** Serves `app.grpc` with the configuration's defaults and `settings`. */
export async function startGrpc(app: App, settings: Partial<GrpcServerSettings> = {}): Promise<RunningGrpc> {
  const defaults = configDefaults();
  const server = createGrpcServer(app.grpc, {
    ...defaults.grpc!,
    port: 0,
    host: '127.0.0.1',
    ...settings,
  });
  const port = await server.listen();
  return { server, address: `127.0.0.1:${port}`, close: async () => void (await server.drain(1_000)) };
}

/** A BYTES tensor as `raw_input_contents` lays it out: each element a 4-byte little-endian length, then its bytes. */
export function rawBytes(elements: readonly Uint8Array[]): Buffer {
  return Buffer.concat(elements.flatMap((e) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(e.length);
    return [length, Buffer.from(e)];
  }));
}

/** The elements of a raw BYTES output, as text. */
export function readRawBytes(tensor: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < tensor.length;) {
    const length = tensor.readUInt32LE(offset);
    out.push(tensor.subarray(offset + 4, offset + 4 + length).toString('utf8'));
    offset += 4 + length;
  }
  return out;
}

/** The values of a raw FP32 output. */
export function readRawFp32(tensor: Buffer): number[] {
  return Array.from({ length: tensor.length / 4 }, (_, i) => tensor.readFloatLE(i * 4));
}
