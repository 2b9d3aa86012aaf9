import type { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import type { InferenceEngine, ModelIO } from '../../../../src/model/engine/types.js';
import { InferenceError, InferenceWorkerExited } from '../../../../src/model/engine/errors.js';
import { createWorkerPool, MAX_CRASHES, spawnWorker, type SpawnWorker } from '../../../../src/model/engine/worker-pool.js';
import { waitFor } from '../../../support/wait.js';
import { buildImagenetLikeModel, IMAGENET_LIKE_CLASSES, IMAGENET_MEAN, IMAGENET_STD } from '../../../fixtures/onnx-models.js';

const io: ModelIO = {
  input: {
    name: 'input', layout: 'NCHW', width: 224, height: 224, channels: 'RGB', resize: 'fill',
    scale: 1 / 255, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD],
  },
  outputName: 'output',
};
/** An image of one saturated channel: 0 red, 1 green, 2 blue. */
const solid = (channel: number): Uint8Array => new Uint8Array(224 * 224 * 3).map((_, i) => (i % 3 === channel ? 255 : 0));
const red = solid(0);
const argmax = (row: Float32Array): number => row.indexOf(Math.max(...row));

describe('model/engine/worker-pool: inference worker threads that survive a crash', function () {
  this.timeout(60_000);
  let engine: InferenceEngine | undefined;
  let workers: Worker[];
  const recording: SpawnWorker = (init) => {
    const worker = spawnWorker(init);
    workers.push(worker);
    return worker;
  };
  beforeEach(() => {
    workers = [];
  });
  afterEach(() => engine?.close());

  it('replaces a worker that died, and the next forward pass runs on the replacement', async () => {
    engine = await createWorkerPool(buildImagenetLikeModel(), io, { intraOpThreads: 1 }, 1, recording);
    expect(argmax(await engine.run([red]))).to.equal(IMAGENET_LIKE_CLASSES.red);
    await workers[0]!.terminate(); // not asked for by the pool: a crash, as far as it knows
    expect(engine.health).to.equal('recovering');
    expect(argmax(await engine.run([red]))).to.equal(IMAGENET_LIKE_CLASSES.red);
    expect(workers).to.have.length(2);
    expect(engine.health).to.equal('ok');
  });

  it(`gives up after ${MAX_CRASHES} crashes within a minute: failed, and every pass refused`, async () => {
    engine = await createWorkerPool(buildImagenetLikeModel(), io, { intraOpThreads: 1 }, 1, recording);
    for (let i = 0; i < MAX_CRASHES; i++) {
      await engine.run([red]);
      await workers.at(-1)!.terminate();
    }
    const reason = await engine.failed;
    expect(reason.message).to.match(/crashed 3 times/);
    expect(reason).to.be.instanceOf(InferenceError).with.property('code', 'engine-failed');
    expect(reason.cause).to.be.instanceOf(InferenceWorkerExited);
    expect(engine.health).to.equal('failed');
    let refused: unknown;
    await engine.run([red]).catch((err: unknown) => (refused = err));
    expect(refused).to.equal(reason);
  });

  it('frees the images it is told nobody reads once the worker has its copy, and only those; both are answered', async () => {
    engine = await createWorkerPool(buildImagenetLikeModel(), io, { intraOpThreads: 1 }, 1, recording);
    const upload = red.slice(); // an upload's decoded pixels: a buffer of their own
    const reread = red.slice(); // an explanation's image, which it reads again
    const rows = await engine.run([upload, reread], [upload]);
    expect(upload.length, 'the disposable image, freed').to.equal(0);
    expect(reread).to.deep.equal(red);
    const classes = rows.length / 2;
    expect([argmax(rows.subarray(0, classes)), argmax(rows.subarray(classes))]).to.deep.equal([
      IMAGENET_LIKE_CLASSES.red,
      IMAGENET_LIKE_CLASSES.red,
    ]);
  });

  it('runs passes started in the same turn on different workers, each answered with its own images', async () => {
    engine = await createWorkerPool(buildImagenetLikeModel(), io, { intraOpThreads: 1 }, 2, recording);
    // As the batcher dispatches a batch per free worker in one loop: no await in between.
    const passes = [engine.run([red]), engine.run([solid(1)]), engine.run([solid(2)])];
    let settled = 0;
    for (const pass of passes) pass.then(() => settled++, () => settled++);
    await waitFor(() => settled === passes.length, 'an answer to every pass', { timeoutMs: 20_000 });
    const rows = await Promise.all(passes);
    expect(rows.map(argmax)).to.deep.equal([IMAGENET_LIKE_CLASSES.red, IMAGENET_LIKE_CLASSES.green, IMAGENET_LIKE_CLASSES.blue]);
  });

  it('fails the pass a worker was running when it died', async () => {
    engine = await createWorkerPool(buildImagenetLikeModel(), io, { intraOpThreads: 1 }, 1, recording);
    await engine.run([red]);
    // A worker that dies with the pass in hand: it exits instead of answering.
    workers[0]!.removeAllListeners('message');
    const pass = engine.run([red]);
    workers[0]!.once('message', () => void workers[0]!.terminate());
    let failure: unknown;
    await pass.catch((err: unknown) => (failure = err));
    expect(failure).to.be.instanceOf(InferenceWorkerExited).with.property('code', 'worker-exited');
    expect(argmax(await engine.run([red]))).to.equal(IMAGENET_LIKE_CLASSES.red);
  });
});
