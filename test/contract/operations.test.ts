/**
 * What a platform team relies on: the probes, the metrics, the request log, the overload
 * guard and the connection-level limits, over real HTTP.
 */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { createReadiness, type Readiness } from '../../src/lifecycle/readiness.js';
import { httpRequest, multipart, uploadRequest } from '../fixtures/hostile/index.js';
import { solidImage, uploadForm } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive } from '../support/contract.js';
import { rawExchange, requestHead } from '../support/raw-http.js';
import { startService, type RunningService } from '../support/service.js';
import { waitFor } from '../support/wait.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };

/** The value of an unlabelled sample, or of the sample with exactly these labels. */
function sample(metrics: string, name: string, labels = ''): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The current value of a sample of `svc`'s metrics (0 when absent). */
async function metric(svc: RunningService, name: string, labels = ''): Promise<number> {
  return sample((await receive(`${svc.url}/metrics`)).text, name, labels) ?? 0;
}

/**
 * Asserts that `act` raised each counter by exactly one. A refusal can be counted just after its
 * answer went out (when the response finishes): wait for the count, then check it went no further.
 */
async function expectCountedOnce(svc: RunningService, counters: readonly [string, string][], act: () => Promise<void>): Promise<void> {
  const before = await Promise.all(counters.map(([name, labels]) => metric(svc, name, labels)));
  await act();
  for (const [i, [name, labels]] of counters.entries()) {
    await waitFor(async () => (await metric(svc, name, labels)) > before[i]!, `${name}{${labels}} to be counted`);
    expect(await metric(svc, name, labels), `${name}{${labels}}`).to.equal(before[i]! + 1);
  }
}

describe('operations', () => {
  describe('probes', () => {
    // Each case brings the service into its own state: readiness only moves forward.
    let readiness: Readiness;
    let svc: RunningService;
    beforeEach(async () => {
      readiness = createReadiness();
      svc = await startService({ model, readiness });
    });
    afterEach(() => svc.close());

    it('GET /health/live answers {"status":"OK"} even before the warm-up', async () => {
      const res = await receive(`${svc.url}/health/live`);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal('{"status":"OK"}');
      expectMatchesSpec(svc.api, 'getLiveness', res);
    });

    it('GET /health/ready answers 503 not-ready with Retry-After until the warm-up inference has run', async () => {
      const res = await receive(`${svc.url}/health/ready`);
      expectProblem(res, 503, 'not-ready');
      expect(res.headers.get('retry-after')).to.equal('1');
      expect((res.body as { detail: string }).detail).to.match(/warming up/);
      expectMatchesSpec(svc.api, 'getReadiness', res);
    });

    it('GET /health/ready answers 200 with the model name once warmed up', async () => {
      readiness.markWarmedUp();
      const res = await receive(`${svc.url}/health/ready`);
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ status: 'ready', model: svc.classifier.name });
      expectMatchesSpec(svc.api, 'getReadiness', res);
    });

    it('while draining: /health/ready answers 503, /health and /health/live still 200, and every answer closes its connection', async () => {
      readiness.markWarmedUp();
      readiness.startDraining();
      const ready = await receive(`${svc.url}/health/ready`);
      expectProblem(ready, 503, 'not-ready');
      expect((ready.body as { detail: string }).detail).to.match(/shutting down/);
      expect(ready.headers.get('connection')).to.equal('close');
      const live = await receive(`${svc.url}/health/live`);
      expect(live.status).to.equal(200);
      expect(live.headers.get('connection')).to.equal('close');
      expect((await receive(`${svc.url}/health`)).text).to.equal('{"status":"OK"}');
    });
  });

  describe('when the inference worker crashes', () => {
    let health: 'ok' | 'recovering' | 'failed' = 'ok';
    let svc: RunningService;
    before(async () => {
      svc = await startService({ model, readiness: createReadiness('ready', () => health) });
    });
    after(() => svc.close());

    for (const [state, detail] of [['recovering', /being replaced/], ['failed', /keep crashing/]] as const) {
      it(`GET /health/ready answers 503 not-ready while the model is ${state}, and /health/live stays 200`, async () => {
        health = state;
        const ready = await receive(`${svc.url}/health/ready`);
        expectProblem(ready, 503, 'not-ready');
        expect((ready.body as { detail: string }).detail).to.match(detail);
        expectMatchesSpec(svc.api, 'getReadiness', ready);
        expect((await receive(`${svc.url}/health/live`)).status).to.equal(200);
        health = 'ok';
        expect((await receive(`${svc.url}/health/ready`)).status).to.equal(200);
      });
    }
  });

  describe('metrics and request log', () => {
    const lines: Record<string, unknown>[] = [];
    let svc: RunningService;
    before(async () => {
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      });
      svc = await startService({ model, log: pino({ level: 'info' }, sink) });
    });
    after(() => svc.close());

    it('GET /metrics serves the Prometheus text format with requests, latency, model timings, gauges, refusals, model info and process metrics', async () => {
      // A service of its own: the counts below are this case's requests alone, whatever ran before.
      const svc = await startService({ model });
      try {
        await expectMetricsAfterTwoUploads(svc);
      } finally {
        await svc.close();
      }
    });

    async function expectMetricsAfterTwoUploads(svc: RunningService): Promise<void> {
      const ok = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await solidImage('red')) });
      expect(ok.status).to.equal(200);
      const bad = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(Buffer.from('not an image')) });
      expect(bad.status).to.equal(422);

      const res = await receive(`${svc.url}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      expectMatchesSpec(svc.api, 'getMetrics', res);
      const text = res.text;
      expect(sample(text, 'catdog_http_requests_total', 'operation="classifyImage",status="200"')).to.equal(1);
      expect(sample(text, 'catdog_http_requests_total', 'operation="classifyImage",status="422"')).to.equal(1);
      expect(sample(text, 'catdog_http_request_duration_seconds_count', 'operation="classifyImage",status="200"')).to.equal(1);
      expect(sample(text, 'catdog_requests_rejected_total', 'reason="image-undecodable"')).to.equal(1);
      expect(sample(text, 'catdog_inference_duration_seconds_count')).to.equal(1);
      expect(sample(text, 'catdog_preprocess_duration_seconds_count')).to.equal(1);
      expect(sample(text, 'catdog_classifications_inflight')).to.equal(0);
      expect(sample(text, 'catdog_classifications_queued')).to.equal(0);
      expect(sample(text, 'catdog_ready')).to.equal(1);
      const { name, sha256, labels, int8Weights } = svc.classifier;
      const info = `model="catdog",version="1",name="${name}",sha256="${sha256}",labels="${labels.join(',')}",int8_weights="${int8Weights}"`;
      expect(sample(text, 'catdog_model_info', info)).to.equal(1);
      expect(sample(text, 'process_resident_memory_bytes')).to.be.above(0);
      expect(text).to.match(/^nodejs_eventloop_lag_seconds /m);
    }

    it('two apps in one process keep separate registries', async () => {
      const other = await startService({ model });
      try {
        const text = (await receive(`${other.url}/metrics`)).text;
        expect(sample(text, 'catdog_http_requests_total', 'operation="classifyImage",status="200"')).to.equal(undefined);
      } finally {
        await other.close();
      }
    });

    it('logs one JSON line per request with id, operation, status, duration and prediction, never the token nor the image', async () => {
      lines.length = 0;
      const image = await solidImage('green');
      await (await fetch(`${svc.url}/health/live?access_token=query-secret`)).text();
      const res = await fetch(`${svc.url}/upload`, {
        method: 'POST',
        headers: { 'x-request-id': 'req-ops-1', authorization: 'Bearer header-secret' },
        body: uploadForm(image),
      });
      expect(res.headers.get('x-request-id')).to.equal('req-ops-1');
      await res.text();
      const line = lines.find((l) => l.reqId === 'req-ops-1');
      expect(line).to.include({ msg: 'request', method: 'POST', path: '/upload', operation: 'classifyImage', status: 200, prediction: 'Dog' });
      expect(line!.durationMs).to.be.a('number');
      const all = JSON.stringify(lines);
      expect(all).to.not.contain('header-secret');
      expect(all).to.not.contain('query-secret');
      expect(all).to.not.contain(image.subarray(16, 40).toString('base64'));
      expect(all).to.not.contain('IHDR');
    });

    it('logs the problem code of a refusal, and replaces an unusable X-Request-Id', async () => {
      lines.length = 0;
      const res = await fetch(`${svc.url}/upload`, { method: 'POST', headers: { 'x-request-id': 'bad id with spaces' }, body: 'x' });
      await res.text();
      const id = res.headers.get('x-request-id');
      expect(id).to.match(/^[0-9a-f-]{36}$/);
      expect(lines.find((l) => l.reqId === id)).to.include({ operation: 'classifyImage', status: 415, problem: 'unsupported-media-type' });
    });
  });

  describe('overload guard', () => {
    let release!: () => void;
    let held = new Promise<void>((resolve) => (release = resolve));
    let svc: RunningService;
    before(async () => {
      svc = await startService({
        model,
        admission: { maxInflight: 1, maxQueue: 1, retryAfterSeconds: 2 },
        beforeClassify: () => held,
      });
    });
    after(() => svc.close());

    it('answers 503 overloaded with Retry-After at once beyond MAX_INFLIGHT + MAX_QUEUE, and serves the admitted ones', async () => {
      const image = await solidImage('blue');
      const upload = () => receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image) });
      const first = upload();
      const second = upload();
      await waitFor(
        async () => (await metric(svc, 'catdog_classifications_inflight')) === 1 && (await metric(svc, 'catdog_classifications_queued')) === 1,
        'one upload running and one waiting',
      );
      // The admitted two are held until release(): an answer now shows the third was not queued.
      const third = await upload();
      expectProblem(third, 503, 'overloaded');
      expect(third.headers.get('retry-after')).to.equal('2');
      expectMatchesSpec(svc.api, 'classifyImage', third);

      release();
      const answers = await Promise.all([first, second]);
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200]);
      const text = (await receive(`${svc.url}/metrics`)).text;
      expect(sample(text, 'catdog_requests_rejected_total', 'reason="overloaded"')).to.equal(1);
      held = Promise.resolve();
    });
  });

  describe('connection limits', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startService({ model, server: { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000, keepAliveTimeoutMs: 1_000 } });
    });
    after(() => svc.close());

    it('cuts off a client that sends its body too slowly: 408 request-timeout problem+json, connection closed, counted', async () => {
      const body = multipart('slow', [{ name: 'file', filename: 'a.png', type: 'image/png', data: await solidImage('red') }]);
      const head = requestHead('POST', '/upload', { 'Content-Type': 'multipart/form-data; boundary=slow', 'Content-Length': body.length });
      // 10 bytes every 200 ms, the first 1,000 bytes only: the body never completes.
      const chunks = Array.from({ length: 100 }, (_, i) => body.subarray(i * 10, i * 10 + 10));
      let res!: Awaited<ReturnType<typeof rawExchange>>;
      await expectCountedOnce(
        svc,
        [['catdog_requests_rejected_total', 'reason="request-timeout"'], ['catdog_http_requests_total', 'operation="classifyImage",status="408"']],
        async () => {
          res = await rawExchange(svc.url, { head, trickle: { chunks, intervalMs: 200 }, timeoutMs: 20_000 });
        },
      );
      expectProblem(res, 408, 'request-timeout');
      expect((res.body as { detail: string }).detail).to.equal('The request was not completed within 1500 ms');
      expect(res.headers.get('connection')).to.equal('close');
      // Not a latency target: cut at REQUEST_TIMEOUT_MS (1.5 s here), not before, and not at
      // Node's own 30-s deadline check, whatever the machine's load.
      expect(res.elapsedMs).to.be.within(1_400, 15_000);
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('cuts off a client that does not finish its headers: 408 naming the headers timeout (issue 17), counted although the app never saw it', async () => {
      const before = await metric(svc, 'catdog_http_requests_total', 'operation="classifyImage",status="408"');
      let res!: Awaited<ReturnType<typeof rawExchange>>;
      await expectCountedOnce(svc, [['catdog_requests_rejected_total', 'reason="request-timeout"']], async () => {
        res = await rawExchange(svc.url, {
          head: 'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n',
          trickle: { chunks: Array.from({ length: 20 }, (_, i) => `X-Slow-${i}: 1\r\n`), intervalMs: 200 },
          timeoutMs: 20_000,
        });
      });
      expectProblem(res, 408, 'request-timeout');
      expect((res.body as { detail: string }).detail).to.equal('The request headers were not received within 1000 ms');
      expect(res.headers.get('connection')).to.equal('close');
      expect(await metric(svc, 'catdog_http_requests_total', 'operation="classifyImage",status="408"')).to.equal(before);
    });

    it('answers 431 headers-too-large for headers over 16 KiB, counted, and keeps serving', async () => {
      let res!: Awaited<ReturnType<typeof rawExchange>>;
      await expectCountedOnce(svc, [['catdog_requests_rejected_total', 'reason="headers-too-large"']], async () => {
        res = await rawExchange(svc.url, { head: httpRequest({ 'X-Padding': 'a'.repeat(20_000) }) });
      });
      expectProblem(res, 431, 'headers-too-large');
      expect(res.headers.get('connection')).to.equal('close');
      // Every response carries an X-Request-Id, this one too though no request reached the app.
      expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
      const upload = await rawExchange(svc.url, { head: uploadRequest(await solidImage('red')) });
      expect(upload.status).to.equal(200);
    });

    it('announces KEEP_ALIVE_TIMEOUT_MS to keep-alive clients', async () => {
      const res = await rawExchange(svc.url, { head: requestHead('GET', '/health/live', {}), timeoutMs: 5_000 });
      expect(res.status).to.equal(200);
      expect(res.headers.get('keep-alive')).to.equal('timeout=1');
    });
  });
});
