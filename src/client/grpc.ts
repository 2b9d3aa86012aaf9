/**
 * The service over gRPC (the Open Inference Protocol's `inference.GRPCInferenceService`), typed
 * by the types generated from `proto/` (`generated/grpc/`): images in one `ModelInfer` call as
 * `raw_input_contents`, answers as labels and probabilities.
 *
 * ```ts
 * const client = createGrpcClient({ address: 'localhost:8081', token });
 * const { predictions } = await client.inferImages([await readFile('cat.png')]);
 * client.close();
 * ```
 */
import path from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../generated/grpc/grpc_service.js';
import type { GRPCInferenceServiceClient } from '../../generated/grpc/inference/GRPCInferenceService.js';
import type { ModelInferResponse__Output } from '../../generated/grpc/inference/ModelInferResponse.js';
import { rootDir } from '../spec.js';
import { DEFAULT_MODEL_NAME } from './v2.js';

/** Where and how to call. */
export interface GrpcClientOptions {
  /** `host:port` of the gRPC server (`GRPC_PORT`, 8081 by default). */
  readonly address: string;
  /** OAuth 2.0 access token, sent as `authorization: Bearer` metadata. */
  readonly token?: string;
  /** TLS (a server with GRPC_TLS_*): `true` trusts the system's CAs, or give the CA certificate (PEM). */
  readonly tls?: boolean | { readonly ca: Buffer };
}

/** One image's answer: its label, and the probability of each of the model's labels. */
export interface GrpcPrediction {
  readonly label: string;
  readonly probabilities: readonly number[];
  /** The model's labels, in the order of `probabilities`. */
  readonly labels: readonly string[];
}

/** Options of one inference. */
export interface GrpcInferOptions {
  readonly model?: string;
  readonly version?: string;
  readonly id?: string;
  /** Time the service has to answer, in milliseconds (a gRPC deadline). */
  readonly deadlineMs?: number;
}

/** The answer to one inference call. */
export interface GrpcInferResult {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly predictions: readonly GrpcPrediction[];
}

/** The client. Calls reject with grpc-js's `ServiceError` (`code`, `details`, `metadata`: `problem-code`). */
export interface GrpcInferenceClient {
  /** Classifies `images` (encoded: JPEG, PNG…) in one `ModelInfer` call, in order. */
  inferImages(images: readonly Uint8Array[], options?: GrpcInferOptions): Promise<GrpcInferResult>;
  close(): void;
}

/** A BYTES tensor as `raw_input_contents`: each element its 4-byte little-endian length, then its bytes. */
function rawBytesTensor(elements: readonly Uint8Array[]): Buffer {
  return Buffer.concat(elements.flatMap((element) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(element.length);
    return [length, element];
  }));
}

/** The elements of a raw BYTES tensor, as text. */
function bytesElements(tensor: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset + 4 <= tensor.length;) {
    const length = tensor.readUInt32LE(offset);
    out.push(tensor.subarray(offset + 4, offset + 4 + length).toString('utf8'));
    offset += 4 + length;
  }
  return out;
}

/**
 * The predictions of an answer asking for `label` then `probabilities` as every class's
 * `"<probability>:<index>:<label>"` (the classification extension), so that the labels come
 * with the answer.
 */
function predictionsOf(response: ModelInferResponse__Output, count: number): GrpcPrediction[] {
  const [labelTensor, classesTensor] = response.raw_output_contents;
  const labels = bytesElements(labelTensor ?? Buffer.alloc(0));
  const classes = bytesElements(classesTensor ?? Buffer.alloc(0));
  const width = classes.length / Math.max(1, count);
  return labels.map((label, i) => {
    const row = classes.slice(i * width, (i + 1) * width).map((c) => {
      const [value, index, ...name] = c.split(':');
      return { value: Number(value), index: Number(index), name: name.join(':') };
    }).sort((a, b) => a.index - b.index);
    return { label, probabilities: row.map((c) => c.value), labels: row.map((c) => c.name) };
  });
}

/** Creates the client; it connects at the first call. */
export function createGrpcClient(options: GrpcClientOptions): GrpcInferenceClient {
  const definition = loadSync('grpc_service.proto', {
    keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [path.join(rootDir, 'proto', 'triton')],
  });
  const proto = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  const channel: ChannelCredentials = options.tls === undefined || options.tls === false
    ? credentials.createInsecure()
    : credentials.createSsl(options.tls === true ? null : options.tls.ca);
  const client: GRPCInferenceServiceClient = new proto.inference.GRPCInferenceService(options.address, channel, {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
  });
  const metadata = (): Metadata => {
    const m = new Metadata();
    if (options.token) m.set('authorization', `Bearer ${options.token}`);
    return m;
  };
  return {
    inferImages(images, inferOptions = {}) {
      const request = {
        model_name: inferOptions.model ?? DEFAULT_MODEL_NAME,
        model_version: inferOptions.version ?? '',
        id: inferOptions.id ?? '',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length] }],
        // Every class (k is clamped to the number of labels), so that the labels come along.
        outputs: [{ name: 'label' }, { name: 'probabilities', parameters: { classification: { int64_param: 1_000 } } }],
        raw_input_contents: [rawBytesTensor(images)],
      };
      const callOptions = inferOptions.deadlineMs === undefined ? {} : { deadline: Date.now() + inferOptions.deadlineMs };
      return new Promise((resolve, reject) => {
        client.ModelInfer(request, metadata(), callOptions, (err: ServiceError | null, response?: ModelInferResponse__Output) => {
          if (err || !response) return reject(err ?? new Error('no answer'));
          resolve({ modelName: response.model_name, modelVersion: response.model_version, predictions: predictionsOf(response, images.length) });
        });
      });
    },
    close: () => client.close(),
  };
}
