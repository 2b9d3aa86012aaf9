/**
 * Open Inference Protocol requests as clients send them, built by hand (so that tests can also
 * break them), and answers read back, binary ones included.
 */
import { expect } from 'chai';
import type { Received } from './contract.js';

/** A BYTES tensor: each element a 4-byte little-endian length, then its bytes. */
export function bytesTensor(elements: readonly Uint8Array[]): Buffer {
  return Buffer.concat(elements.flatMap((e) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(e.length);
    return [length, Buffer.from(e)];
  }));
}

/** A binary body: the JSON header, then `tensors`; and the header's length. */
function binaryBody(header: unknown, tensors: readonly Buffer[] = []): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}

/** The header of a request carrying `images` as the BYTES input `image`, in binary. */
export function imagesHeader(images: readonly Uint8Array[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const size = images.reduce((sum, image) => sum + 4 + image.length, 0);
  return { inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length], parameters: { binary_data_size: size } }], ...extra };
}

/** A JSON request carrying `images` as base64. */
export function base64Request(images: readonly Uint8Array[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length], data: images.map((i) => Buffer.from(i).toString('base64')) }], ...extra };
}

/** A received answer, with the JSON header and the binary outputs of a binary one split apart. */
export interface ReceivedV2 extends Received {
  /** The JSON header of a binary answer (`Inference-Header-Content-Length`). */
  readonly header?: InferenceHeader;
  /** Each binary output's bytes, by name. */
  readonly binary: Readonly<Record<string, Buffer>>;
  /** Milliseconds from the request to the whole answer. */
  readonly ms: number;
}

interface InferenceHeader {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size?: number } }[];
}

/** Sends the request and reads the answer whole, splitting a binary one. */
export async function receiveV2(url: string, init: RequestInit): Promise<ReceivedV2> {
  const started = performance.now();
  const res = await fetch(url, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - started;
  const type = res.headers.get('content-type') ?? '';
  const headerLength = res.headers.get('inference-header-content-length');
  if (headerLength !== null) {
    expect(type).to.match(/^application\/octet-stream/);
    const header = JSON.parse(bytes.subarray(0, Number(headerLength)).toString()) as InferenceHeader;
    const binary: Record<string, Buffer> = {};
    let offset = Number(headerLength);
    for (const output of header.outputs) {
      const size = output.parameters?.binary_data_size;
      if (size === undefined) continue;
      binary[output.name] = bytes.subarray(offset, offset + size);
      offset += size;
    }
    expect(offset, 'the binary outputs fill the body').to.equal(bytes.length);
    return { status: res.status, headers: res.headers, body: header, text: bytes.subarray(0, Number(headerLength)).toString(), header, binary, ms };
  }
  const text = bytes.toString();
  const body = /json/.test(type) && text ? (JSON.parse(text) as unknown) : text;
  return { status: res.status, headers: res.headers, body, text, binary: {}, ms };
}

/** POSTs a JSON body. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<ReceivedV2> {
  return receiveV2(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** POSTs a binary body with its `Inference-Header-Content-Length`. */
export function postBinary(url: string, header: unknown, tensors: readonly Buffer[], headers: Record<string, string> = {}): Promise<ReceivedV2> {
  const { body, headerLength } = binaryBody(header, tensors);
  return receiveV2(url, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength), ...headers },
    body,
  });
}

/** The elements of a BYTES output read from its binary bytes. */
export function readBytesOutput(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const length = bytes.readUInt32LE(offset);
    out.push(bytes.subarray(offset + 4, offset + 4 + length).toString());
    offset += 4 + length;
  }
  return out;
}

/** The values of an FP32 output read from its binary bytes. */
export function readFp32Output(bytes: Buffer): number[] {
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

/** An output of a JSON answer (or of a binary answer's header), by name. */
export function output(res: Received, name: string): { datatype: string; shape: number[]; data?: unknown[]; parameters?: Record<string, unknown> } {
  const found = (res.body as InferenceHeader).outputs.find((o) => o.name === name);
  expect(found, `output ${name} in ${res.text}`).to.not.equal(undefined);
  return found!;
}

/**
 * Asserts an error of a `/v2` route: the RFC 9457 problem with the given status and code, served
 * as `application/json` with the protocol's `error` member (the detail, or else the title).
 */
export function expectV2Problem(res: Received, status: number, code: string): void {
  expect(res.status, res.text).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/json/);
  const body = res.body as Record<string, unknown>;
  expect(body).to.include({ status, code, type: `urn:cat-dog-other:problem:${code}` });
  expect(body.error).to.be.a('string').and.equal(body.detail ?? body.title);
}
