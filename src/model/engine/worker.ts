/**
 * Entry point of an inference worker thread (see `worker-pool.ts`): one onnxruntime session,
 * one forward pass at a time over decoded images it normalises itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { releaseBytes } from '../../release-bytes.js';
import { batchRunner, ortSessionOptions, signatureOf } from './session.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './types.js';

if (!parentPort) throw new Error('worker.ts is the entry point of an inference worker thread, not a module to import');
const port = parentPort;
const { model, io, options } = workerData as WorkerInit;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

try {
  const session = await ort.InferenceSession.create(model, ortSessionOptions(options));
  const run = batchRunner(session, io);
  port.on('message', (request: WorkerRequest) => {
    // The images are this thread's own copies: freed once the pass is over, not left for a
    // collection of this thread's heap.
    const pass = run(request.images).finally(() => request.images.forEach((image) => releaseBytes(image)));
    pass.then(
      (data) => reply({ type: 'result', id: request.id, data }, [data.buffer as ArrayBuffer]),
      (err: unknown) => reply({ type: 'error', id: request.id, message: String((err as Error)?.message ?? err) }),
    );
  });
  reply({ type: 'ready', ...signatureOf(session) });
} catch (err) {
  reply({ type: 'failed', message: String((err as Error)?.message ?? err) });
}
