/**
 * `ModelStreamInfer` (Triton's): a bidirectional stream of inference requests, each answered on
 * the stream in the order it came, as `ModelInfer` would answer it. A request that fails is
 * answered with `error_message` (the message `ModelInfer`'s status would carry) and the stream
 * goes on; the stream itself ends with a status only when the call is refused (token, scope) or
 * the client goes.
 *
 * Up to {@link STREAM_WINDOW} requests of one stream run at once, so that they share forward
 * passes; beyond, the stream is not read until the oldest is answered (HTTP/2 flow control then
 * holds the client back), and answers are not produced faster than the client reads them.
 */
import { once } from 'node:events';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { ModelInferRequest__Output } from '../../../generated/grpc/inference/ModelInferRequest.js';
import type { ModelStreamInferResponse } from '../../../generated/grpc/inference/ModelStreamInferResponse.js';
import type { CallContext } from './call.js';
import { infer, type InferDeps } from './infer.js';
import { grpcFailure } from './status.js';

/** Requests of one stream being answered at once. */
const STREAM_WINDOW = 8;

type StreamCall = ServerDuplexStream<ModelInferRequest__Output, ModelStreamInferResponse>;

/** The handler of `ModelStreamInfer`. */
export function streamInfer(deps: InferDeps): (call: StreamCall, context: CallContext) => Promise<void> {
  return async (call, context) => {
    const { note, signal } = context;
    note.requests = 0;
    note.failed = 0;
    const answer = async (message: ModelInferRequest__Output): Promise<ModelStreamInferResponse> => {
      const own: CallContext = { ...context, note: {} };
      try {
        const response = await infer(deps, message, own);
        note.model ??= own.note.model;
        return { infer_response: response };
      } catch (err) {
        note.failed = (note.failed ?? 0) + 1;
        const failure = grpcFailure(err, signal.aborted);
        if (failure.problem === 'internal') context.log.error({ err }, 'unexpected error in a stream request');
        return { error_message: failure.error.details ?? 'failed' };
      }
    };
    const pending: Promise<ModelStreamInferResponse>[] = [];
    /** Writes the oldest answers until at most `left` are pending. */
    const writeUntil = async (left: number): Promise<void> => {
      while (pending.length > left) {
        const response = await pending.shift()!;
        if (signal.aborted) return;
        if (!call.write(response)) await once(call, 'drain', { signal });
      }
    };
    try {
      for await (const message of call as AsyncIterable<ModelInferRequest__Output>) {
        note.requests++;
        pending.push(answer(message));
        await writeUntil(STREAM_WINDOW - 1);
      }
      await writeUntil(0);
    } catch (err) {
      // The client went: the call's signal has stopped the work it queued.
      if (!signal.aborted) throw err;
    }
  };
}
