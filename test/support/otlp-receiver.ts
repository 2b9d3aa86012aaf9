/**
 * An OTLP/HTTP trace receiver for the tests: a real HTTP server on loopback that accepts
 * `POST /v1/traces` in either encoding the service exports (`application/json`, or
 * `application/x-protobuf` decoded with the OTLP trace messages' own field numbers, written out
 * below from opentelemetry-proto), and keeps every span it received, flattened.
 *
 * ```ts
 * const receiver = await startOtlpReceiver();
 * // ... OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url
 * const spans = receiver.spans.filter((s) => s.traceId === traceId);
 * await receiver.close();
 * ```
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/** One received span, its ids in lower-case hex. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** `''` for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server. */
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** OTLP's StatusCode: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  /** The resource's attributes (`service.name`). */
  readonly resource: Readonly<Record<string, string | number | boolean>>;
}

/** What the receiver got. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: an OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Export requests received, with their content type. */
  readonly requests: { readonly path: string; readonly contentType: string }[];
  close(): Promise<void>;
}

/** The subset of opentelemetry-proto's trace messages the tests read (field numbers as published). */
const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`;

const exportRequest = protobuf.parse(OTLP_TRACE_PROTO).root.lookupType('otlp.ExportTraceServiceRequest');

/** The JSON mapping of the messages above (protobufjs' `toObject`, or OTLP/JSON as sent). */
interface KeyValueJson { key: string; value?: Record<string, unknown> }
interface SpanJson {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number;
  startTimeUnixNano: string | number; endTimeUnixNano: string | number;
  attributes?: KeyValueJson[]; status?: { code?: number };
}
interface RequestJson { resourceSpans?: { resource?: { attributes?: KeyValueJson[] }; scopeSpans?: { spans?: SpanJson[] }[] }[] }

function attributesOf(list: readonly KeyValueJson[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    if (!value) continue;
    if ('stringValue' in value) out[key] = String(value.stringValue);
    else if ('intValue' in value) out[key] = Number(value.intValue);
    else if ('doubleValue' in value) out[key] = Number(value.doubleValue);
    else if ('boolValue' in value) out[key] = Boolean(value.boolValue);
  }
  return out;
}

/** Flattens an export request (OTLP/JSON, ids in hex as OTLP/JSON has them). */
function spansOf(request: RequestJson): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const resource = attributesOf(rs.resource?.attributes);
    return (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((s) => ({
      traceId: s.traceId.toLowerCase(),
      spanId: s.spanId.toLowerCase(),
      parentSpanId: (s.parentSpanId ?? '').toLowerCase(),
      name: s.name,
      kind: s.kind ?? 0,
      startNs: BigInt(s.startTimeUnixNano),
      endNs: BigInt(s.endTimeUnixNano),
      attributes: attributesOf(s.attributes),
      statusCode: s.status?.code ?? 0,
      resource,
    })));
  });
}

/** A protobuf body as OTLP/JSON: bytes as hex, 64-bit numbers as strings. */
function fromProtobuf(body: Buffer): RequestJson {
  const message = exportRequest.decode(body);
  const hex = (b: unknown): string => (b instanceof Uint8Array ? Buffer.from(b).toString('hex') : '');
  const object = exportRequest.toObject(message, { longs: String, bytes: Array, defaults: false, oneofs: false }) as {
    resourceSpans?: { resource?: { attributes?: KeyValueJson[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
  };
  // toObject with `bytes: Array` gives number arrays; read the ids from the message itself instead.
  const decoded = message as unknown as { resourceSpans: { scopeSpans: { spans: { traceId: Uint8Array; spanId: Uint8Array; parentSpanId: Uint8Array }[] }[] }[] };
  return {
    resourceSpans: (object.resourceSpans ?? []).map((rs, i) => ({
      ...(rs.resource ? { resource: rs.resource } : {}),
      scopeSpans: (rs.scopeSpans ?? []).map((ss, j) => ({
        spans: (ss.spans ?? []).map((s, k) => {
          const ids = decoded.resourceSpans[i]!.scopeSpans[j]!.spans[k]!;
          return { ...s, traceId: hex(ids.traceId), spanId: hex(ids.spanId), parentSpanId: hex(ids.parentSpanId) } as unknown as SpanJson;
        }),
      })),
    })),
  };
}

/** Starts the receiver on a free loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: { path: string; contentType: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      requests.push({ path: req.url ?? '', contentType });
      try {
        const body = Buffer.concat(chunks);
        if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`unexpected ${req.method} ${req.url}`);
        const parsed = contentType.startsWith('application/json') ? (JSON.parse(body.toString('utf8')) as RequestJson) : fromProtobuf(body);
        spans.push(...spansOf(parsed));
        res.writeHead(200, { 'content-type': contentType.startsWith('application/json') ? 'application/json' : 'application/x-protobuf' });
        res.end(contentType.startsWith('application/json') ? '{}' : '');
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
