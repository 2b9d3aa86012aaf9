/**
 * A payload event in the binary content mode of the CloudEvents HTTP binding (CloudEvents 1.0,
 * http-protocol-binding.md §3.1): the event's data is the HTTP body, its `Content-Type` the data's
 * media type, and each context attribute a `ce-` header.
 *
 * The types and extension attributes are those of KServe's payload logger, so that what consumes
 * KServe's events (a Knative trigger filtering on `type` or `inferenceservicename`, a Kafka sink)
 * takes ours unchanged:
 *
 * | header | value |
 * |---|---|
 * | `ce-specversion` | `1.0` |
 * | `ce-type` | `org.kubeflow.serving.inference.request` or `.response` |
 * | `ce-id` | the answer's inference id (the same for both events of an exchange) |
 * | `ce-source` | this replica (`PAYLOAD_LOGGER_SOURCE`) |
 * | `ce-time` | when the answer was given (RFC 3339) |
 * | `ce-inferenceservicename`, `ce-namespace`, `ce-component`, `ce-endpoint` | KServe's extensions |
 * | `ce-metadata` | KServe's: a JSON object of request headers (here `X-Request-Id`) |
 * | `ce-modelname`, `ce-modelversion` | ours: the model and the version that answered |
 */
import type { PayloadBody, PayloadExchange } from '../inference/payload.js';

/** KServe's event types. */
const REQUEST_TYPE = 'org.kubeflow.serving.inference.request';
const RESPONSE_TYPE = 'org.kubeflow.serving.inference.response';

/** Which event of an exchange. */
export type PayloadEventKind = 'request' | 'response';

/** The deployment's names, as KServe's logger sends them. */
export interface EventNames {
  /** `ce-source`. */
  readonly source: string;
  /** `ce-inferenceservicename`; `undefined`: the model's name in the repository. */
  readonly inferenceService: string | undefined;
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
}

/** One event ready to send: its headers and body. */
export interface PayloadEvent {
  readonly kind: PayloadEventKind;
  readonly id: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | string;
  /** Bytes the event holds while it waits. */
  readonly bytes: number;
}

/** The event of `kind` for `exchange`, answered at `at` (milliseconds since the epoch). */
export function payloadEvent(kind: PayloadEventKind, exchange: PayloadExchange, body: PayloadBody, names: EventNames, at: number): PayloadEvent {
  const metadata = exchange.requestId === undefined ? {} : { 'X-Request-Id': [exchange.requestId] };
  const headers: Record<string, string> = {
    'content-type': body.contentType,
    'ce-specversion': '1.0',
    'ce-type': kind === 'request' ? REQUEST_TYPE : RESPONSE_TYPE,
    'ce-id': exchange.id,
    'ce-source': names.source,
    'ce-time': new Date(at).toISOString(),
    'ce-inferenceservicename': names.inferenceService ?? exchange.model,
    'ce-namespace': names.namespace,
    'ce-component': names.component,
    'ce-endpoint': names.endpoint,
    'ce-metadata': JSON.stringify(metadata),
    'ce-modelname': exchange.model,
    'ce-modelversion': exchange.version,
  };
  if (body.headerLength !== undefined) headers['ce-inferenceheadercontentlength'] = String(body.headerLength);
  const bytes = typeof body.data === 'string' ? Buffer.byteLength(body.data) : body.data.byteLength;
  return { kind, id: exchange.id, headers, body: body.data, bytes };
}
