/**
 * The payload logger against a real HTTP receiver on loopback: which failures are retried and
 * which are not, the mode, and what shutdown does with the events in hand.
 */
import http from 'node:http';
import type net from 'node:net';
import { expect } from 'chai';
import type { PayloadExchange } from '../../../src/inference/payload.js';
import { createLogger } from '../../../src/log.js';
import { payloadLoggerFromConfig, type PayloadLogger, type PayloadLoggerSettings } from '../../../src/payload/logger.js';
import { waitFor } from '../../support/wait.js';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** A receiver answering each event with the next of `statuses` (the last one repeated; 0: never). */
async function receiver(statuses: number[]): Promise<{ url: string; got: http.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const got: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push(req.headers);
      const status = statuses[Math.min(got.length - 1, statuses.length - 1)]!;
      if (status !== 0) res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    got,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const settings = (url: string, overrides: Partial<PayloadLoggerSettings> = {}): PayloadLoggerSettings => ({
  url,
  mode: 'all',
  source: 'urn:test',
  inferenceService: undefined,
  namespace: 'default',
  component: 'predictor',
  endpoint: 'default',
  queueEvents: 100,
  queueBytes: 1 << 20,
  concurrency: 1,
  timeoutMs: 10_000,
  retries: 3,
  backoffMs: 1,
  ...overrides,
});

const exchange = (id: string): PayloadExchange => ({
  id,
  source: 'upload',
  model: 'catdog',
  version: '1',
  request: () => ({ contentType: 'image/png', data: new Uint8Array([0x89, 0x50, 0x4e, 0x47]) }),
  response: () => ({ contentType: 'application/json', data: `{"id":"${id}"}` }),
});

const outcome = (logger: PayloadLogger, key: string): number => (logger.stats().outcomes as ReadonlyMap<string, number>).get(key) ?? 0;

describe('payload logger (issue 26)', () => {
  let target: Awaited<ReturnType<typeof receiver>> | undefined;
  let logger: PayloadLogger | undefined;
  afterEach(async () => {
    await logger?.close(0);
    await target?.close();
    logger = target = undefined;
  });

  it('is off without a URL', () => {
    expect(payloadLoggerFromConfig({ ...settings(''), url: undefined }, log)).to.equal(undefined);
  });

  it('retries a 503 and a 429, then the event is sent', async () => {
    target = await receiver([503, 429, 202]);
    logger = payloadLoggerFromConfig(settings(target.url, { mode: 'request' }), log)!;
    logger.sink.offer(exchange('a'));
    await waitFor(() => outcome(logger!, 'request:sent') === 1, 'sent');
    expect(target.got.map((h) => h['ce-id'])).to.deep.equal(['a', 'a', 'a']);
    expect(target.got[0]).to.include({ 'ce-type': 'org.kubeflow.serving.inference.request', 'content-type': 'image/png', 'ce-source': 'urn:test' });
  });

  it('does not retry a 400: the receiver refuses that event', async () => {
    target = await receiver([400]);
    logger = payloadLoggerFromConfig(settings(target.url, { mode: 'response' }), log)!;
    logger.sink.offer(exchange('b'));
    await waitFor(() => outcome(logger!, 'response:dropped-rejected') === 1, 'rejected');
    expect(target.got).to.have.length(1);
    expect(target.got[0]).to.include({ 'ce-type': 'org.kubeflow.serving.inference.response', 'ce-inferenceservicename': 'catdog' });
  });

  it('gives up after PAYLOAD_LOGGER_RETRIES on a receiver that keeps failing', async () => {
    target = await receiver([500]);
    logger = payloadLoggerFromConfig(settings(target.url, { retries: 2 }), log)!;
    logger.sink.offer(exchange('c'));
    await waitFor(() => outcome(logger!, 'request:dropped-undeliverable') + outcome(logger!, 'response:dropped-undeliverable') === 2, 'both undeliverable');
    expect(target.got).to.have.length(6);
  });

  it('on close, drops what waits and what is held by the receiver, counted as shutdown; later offers too', async () => {
    target = await receiver([0]);
    logger = payloadLoggerFromConfig(settings(target.url), log)!;
    logger.sink.offer(exchange('d'));
    await waitFor(() => target!.got.length === 1, 'the first event held');
    expect(logger.stats().pending).to.equal(2);
    await logger.close(0);
    logger.sink.offer(exchange('e'));
    await waitFor(() => outcome(logger!, 'request:dropped-shutdown') + outcome(logger!, 'response:dropped-shutdown') === 4, 'four dropped at shutdown');
    expect(outcome(logger, 'request:sent') + outcome(logger, 'response:sent')).to.equal(0);
  });
});
