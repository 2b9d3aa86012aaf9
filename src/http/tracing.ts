/**
 * The server span of each HTTP request (OpenTelemetry's HTTP semantic conventions), continuing
 * the trace of an incoming W3C `traceparent`. The stages run inside it (`src/tracing/tracer.ts`)
 * become its children. Installed only when tracing is on: off, the stack has no such middleware.
 */
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { incomingParent, modelAttributes, startServerSpan } from '../tracing/tracer.js';
import type { AppMiddleware } from './context.js';

/** The methods the conventions name; any other is `_OTHER`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT']);

/** Creates the middleware; put it first, so that the request log sees the trace id. */
export function traceRequests(): AppMiddleware {
  return async function traceRequest(ctx, next) {
    const method = KNOWN_METHODS.has(ctx.method) ? ctx.method : '_OTHER';
    const parent = incomingParent({ traceparent: ctx.get('traceparent') || undefined, tracestate: ctx.get('tracestate') || undefined });
    const server = startServerSpan(method, parent, {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_PATH]: ctx.path,
      [ATTR_URL_SCHEME]: ctx.protocol,
      [ATTR_NETWORK_PROTOCOL_VERSION]: ctx.req.httpVersion,
      ...(ctx.req.socket.remoteAddress ? { [ATTR_CLIENT_ADDRESS]: ctx.req.socket.remoteAddress } : {}),
      ...(ctx.get('user-agent') ? { [ATTR_USER_AGENT_ORIGINAL]: ctx.get('user-agent') } : {}),
    });
    if (!server) {
      await next();
      return;
    }
    ctx.state.traceId = server.traceId;
    ctx.state.spanId = server.spanId;
    try {
      await server.run(next);
    } finally {
      const { span } = server;
      const status = ctx.status;
      const route = ctx.state.route;
      // The conventions' name: the method and the route template, when the request was routed.
      if (route !== undefined) span.updateName(`${method} ${route}`).setAttribute(ATTR_HTTP_ROUTE, route);
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (ctx.state.operationId !== undefined) span.setAttribute('operation.id', ctx.state.operationId);
      if (ctx.state.model) span.setAttributes(modelAttributes(ctx.state.model));
      if (ctx.state.inferenceId !== undefined) span.setAttribute('inference.id', ctx.state.inferenceId);
      if (ctx.state.problem !== undefined) span.setAttribute('problem.code', ctx.state.problem);
      // A server span is an error for a 5xx only: a 4xx is the client's.
      if (status >= 500) span.setAttribute(ATTR_ERROR_TYPE, String(status));
      server.end(status >= 500 ? ctx.state.problem ?? String(status) : undefined);
    }
  };
}
