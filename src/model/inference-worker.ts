/**
 * Entry point of an inference worker thread (see `inference.ts`): one onnxruntime session,
 * one forward pass at a time, input and output buffers transferred rather than copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { ortSessionOptions, signatureOf } from './inference.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './inference.js';

const port = parentPort!;
const { model, options } = workerData as WorkerInit;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

try {
  const session = await ort.InferenceSession.create(model, ortSessionOptions(options));
  port.on('message', (request: WorkerRequest) => {
    session.run({ [request.input]: new ort.Tensor('float32', request.data, request.dims) }).then(
      (result) => {
        // A copy of the (small) output: onnxruntime may own the original buffer.
        const data = (result[request.output]!.data as Float32Array).slice();
        reply({ type: 'result', id: request.id, data }, [data.buffer]);
      },
      (err: unknown) => reply({ type: 'error', id: request.id, message: String((err as Error)?.message ?? err) }),
    );
  });
  reply({ type: 'ready', ...signatureOf(session) });
} catch (err) {
  reply({ type: 'failed', message: String((err as Error)?.message ?? err) });
}
