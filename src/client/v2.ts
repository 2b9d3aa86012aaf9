/**
 * Open Inference Protocol (V2) calls of the typed client: the images of one request sent as one
 * binary batch (Triton's binary tensor data extension: no base64), the answer as JSON.
 *
 * ```ts
 * const client = createClassifierClient({ baseUrl: 'http://localhost:8080', token });
 * const { data, error } = await inferImages(client, [await readFile('a.jpg'), await readFile('b.jpg')]);
 * for (const p of predictionsOf(data!, labels)) console.log(p.label, p.probabilities);
 * ```
 */
import type { components } from '../../generated/openapi.js';
import type { ClassifierClient } from './client.js';

/** The answer to an inference request. */
export type InferenceResponse = components['schemas']['V2InferenceResponse'];
/** A model's metadata (`GET /v2/models/{name}`). */
export type ModelMetadata = components['schemas']['V2ModelMetadata'];
/**
 * A V2 error: the protocol's `error` with the problem's members, or a plain problem (a connection
 * refused when it opened, before its request was read).
 */
export type V2Error = components['schemas']['V2Error'] | components['schemas']['Problem'];

/** The model the service serves when none is named (`DEFAULT_MODEL`'s default). */
export const DEFAULT_MODEL_NAME = 'catdog';

/** Options of {@link inferImages}. */
export interface InferImagesOptions {
  /** The model's name; default {@link DEFAULT_MODEL_NAME}. */
  readonly model?: string;
  /** A version; default the one the server chooses. */
  readonly version?: string;
  /** The request's `id`, echoed in the answer. */
  readonly id?: string;
  readonly signal?: AbortSignal;
}

/** What {@link inferImages} resolves to: `data` on 200, otherwise `error`, and the response. */
export type InferResult =
  | { readonly data: InferenceResponse; readonly error?: never; readonly response: Response }
  | { readonly data?: never; readonly error: V2Error; readonly response: Response };

/** The header and body of one binary request carrying `images` as the BYTES input `image`. */
export function binaryImageRequest(images: readonly Uint8Array[], id?: string): { readonly header: Uint8Array; readonly body: Uint8Array } {
  const tensorBytes = images.reduce((sum, image) => sum + 4 + image.length, 0);
  const request = {
    ...(id === undefined ? {} : { id }),
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length], parameters: { binary_data_size: tensorBytes } }],
    outputs: [{ name: 'probabilities' }, { name: 'label' }],
  };
  const header = new TextEncoder().encode(JSON.stringify(request));
  const body = new Uint8Array(header.length + tensorBytes);
  const view = new DataView(body.buffer);
  body.set(header, 0);
  let offset = header.length;
  for (const image of images) {
    view.setUint32(offset, image.length, true);
    body.set(image, offset + 4);
    offset += 4 + image.length;
  }
  return { header, body };
}

/**
 * `POST /v2/models/{model}[/versions/{version}]/infer` with `images` (encoded, anything `/upload`
 * takes) as one binary batch; the answer holds `probabilities` and `label` for each, in order.
 */
export async function inferImages(client: ClassifierClient, images: readonly Uint8Array[], options: InferImagesOptions = {}): Promise<InferResult> {
  const name = options.model ?? DEFAULT_MODEL_NAME;
  const { header, body } = binaryImageRequest(images, options.id);
  const init = {
    // The header the generated type asks for; the serializer below sends the framed bytes.
    body: { inputs: [] },
    bodySerializer: () => body,
    headers: { 'Content-Type': 'application/octet-stream' },
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const headerParams = { 'Inference-Header-Content-Length': header.length };
  const result = options.version === undefined
    ? await client.POST('/v2/models/{name}/infer', { ...init, params: { path: { name }, header: headerParams } })
    : await client.POST('/v2/models/{name}/versions/{version}/infer', { ...init, params: { path: { name, version: options.version }, header: headerParams } });
  return result as InferResult;
}

/** `GET /v2/models/{model}`: inputs, outputs, labels and versions. */
export async function modelMetadata(client: ClassifierClient, model = DEFAULT_MODEL_NAME): Promise<{ data?: ModelMetadata; error?: V2Error; response: Response }> {
  return client.GET('/v2/models/{name}', { params: { path: { name: model } } });
}

/** One image's answer, from an {@link InferenceResponse}. */
export interface ImagePrediction {
  readonly label: string;
  /** The probability of each label, in the order of the model's labels. */
  readonly probabilities: readonly number[];
}

/** The answer of each image, in request order, from a JSON answer with `label` and `probabilities`. */
export function predictionsOf(response: InferenceResponse): ImagePrediction[] {
  const output = (name: string) => response.outputs.find((o) => o.name === name);
  const labels = (output('label')?.data ?? []) as string[];
  const probabilities = output('probabilities');
  const width = probabilities?.shape[1] ?? 0;
  const values = ((probabilities?.data ?? []) as unknown[]).flat(Infinity) as number[];
  return labels.map((label, i) => ({ label, probabilities: values.slice(i * width, (i + 1) * width) }));
}
