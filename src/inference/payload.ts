/**
 * The front-ends' port to the payload logger (`src/payload/`, wired in `src/app.ts`): every answer
 * given, with the request it answers, as the protocol carried them. Unlike capture (`capture.ts`),
 * nothing is sampled: each answer of `POST /upload`, REST V2 and gRPC inference is offered. The
 * sink takes the exchange and returns; it never waits, never throws, and builds the bodies only
 * for the events its mode sends.
 */
import type { CaptureSource } from './capture.js';

/** One event's payload: its bytes (or text) and their media type. */
export interface PayloadBody {
  readonly contentType: string;
  readonly data: Uint8Array | string;
  /**
   * For a body of the V2 binary data extension: the length of its JSON header
   * (`Inference-Header-Content-Length`), sent as the `inferenceheadercontentlength` extension.
   */
  readonly headerLength?: number;
}

/** A request and the answer it got, under the answer's inference id. */
export interface PayloadExchange {
  /** The inference id of the answer (`id`, `X-Inference-Id`): the events' `ce-id`. */
  readonly id: string;
  readonly source: CaptureSource;
  /** The model of the repository and the version that answered. */
  readonly model: string;
  readonly version: string;
  /** The request's id in the log (`X-Request-Id`), when it came over HTTP. */
  readonly requestId?: string | undefined;
  /** The request as received (called only when the mode sends requests). */
  readonly request: () => PayloadBody;
  /** The answer as sent (called only when the mode sends responses). */
  readonly response: () => PayloadBody;
}

/** Where exchanges go. */
export interface PayloadSink {
  /** Takes one exchange; never throws, never waits (it drops, and counts, what it cannot keep). */
  offer(exchange: PayloadExchange): void;
}

/** The media type of an image, from its first bytes (the upload's part type is the client's guess); `application/octet-stream` when unknown. */
export function imageMediaType(bytes: Uint8Array): string {
  const starts = (...sig: number[]): boolean => sig.every((b, i) => bytes[i] === b);
  const ascii = (from: number, text: string): boolean => Buffer.from(bytes.subarray(from, from + text.length)).toString('latin1') === text;
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (ascii(0, 'GIF8')) return 'image/gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  if (ascii(4, 'ftypavif') || ascii(4, 'ftypavis')) return 'image/avif';
  if (ascii(4, 'ftyphei') || ascii(4, 'ftypmif1')) return 'image/heif';
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return 'image/tiff';
  if (ascii(0, 'BM')) return 'image/bmp';
  return 'application/octet-stream';
}
