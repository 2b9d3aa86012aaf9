/**
 * Issue 17: connections and requests a hostile or careless client can hold. Over real loopback
 * connections, from chosen source addresses (Linux accepts any 127.x.y.z):
 * - the connection budget answers 503 too-many-connections with Retry-After at once, per address
 *   and in total, and keeps its reserve for new clients;
 * - a refused upload's connection is closed after the answer, not drained;
 * - a body slower than the minimum rate is cut with 408, which names the deadline missed;
 * - `Expect: 100-continue` is answered 401 without inviting the body when the token is missing;
 * - a repeated `Host` or `Authorization` header is refused with 400.
 */
import net from 'node:net';
import { expect } from 'chai';
import sharp from 'sharp';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { readSpec } from '../../src/spec.js';
import { multipart, uploadRequest } from '../fixtures/hostile/index.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { solidImage } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive } from '../support/contract.js';
import { rawExchange, rawExchangeUntilClosed, requestHead } from '../support/raw-http.js';
import { startService, type RunningService, type StartOptions } from '../support/service.js';
import { waitFor } from '../support/wait.js';
import { verifierFor } from '../support/verifier.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };

/** The value of a metric sample whose line contains `labels`. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labels));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

/** Opens a connection from `localAddress` and leaves it idle. */
function hold(url: string, localAddress: string): Promise<net.Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(port), host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A keep-alive connection from `localAddress` that has been answered `GET /health` once and is left open, idle. */
async function answeredOnce(url: string, localAddress: string): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = await hold(url, localAddress);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let received = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(received)?.[1] ?? NaN);
      if (end >= 0 && received.length >= end + 4 + length) resolve();
    });
    socket.once('close', () => reject(new Error(`closed before the answer: ${received}`)));
    socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
  expect(received).to.match(/^HTTP\/1\.1 200 /);
  expect(received).to.not.match(/\r\nconnection: close/i);
  return { socket, closed };
}

/** Waits until the server holds exactly `n` connections (it sees a client's connect and close a moment later). */
function settle(svc: RunningService, n: number): Promise<void> {
  return waitFor(async () => (await svc.connections()) === n, `the server to hold ${n} connections`);
}

describe('connections and slow clients (issue 17)', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let image: Buffer;

  before(async () => {
    idp = await startIdentityProvider();
    image = await solidImage('red');
  });
  after(() => idp.close());

  /** The service with auth enabled against the test's identity provider. */
  async function startProtected(options: Partial<StartOptions> = {}): Promise<RunningService> {
    const verifier = verifierFor(idp, { jwksCooldownMs: 100, httpTimeoutMs: 1_000 });
    return startService({ model, securityHandlers: createSecurityHandlers(readSpec(), { verifier }), ...options });
  }

  describe('the connection budget', () => {
    let svc: RunningService;
    const held: net.Socket[] = [];
    before(async () => {
      svc = await startService({ model, server: { maxConnections: 4, maxConnectionsPerAddress: 2, connectionReserve: 2 } });
    });
    afterEach(() => {
      for (const socket of held.splice(0)) socket.destroy();
      return settle(svc, 0);
    });
    after(() => svc.close());

    it('answers a connection beyond MAX_CONNECTIONS_PER_ADDRESS 503 too-many-connections with Retry-After, at once, and serves other addresses', async () => {
      held.push(await hold(svc.url, '127.0.0.2'), await hold(svc.url, '127.0.0.2'));
      await settle(svc, 2);
      const refused = await rawExchange(svc.url, { head: requestHead('GET', '/health', {}), localAddress: '127.0.0.2' });
      expectProblem(refused, 503, 'too-many-connections');
      expect((refused.body as { detail: string }).detail).to.match(/from your address/);
      expect(refused.headers.get('retry-after')).to.equal('1');
      expect(refused.headers.get('connection')).to.equal('close');
      expect(refused.elapsedMs, 'answered at once').to.be.below(2_000);
      expectMatchesSpec(svc.api, 'getHealth', refused);

      const other = await rawExchange(svc.url, { head: requestHead('GET', '/health', {}), localAddress: '127.0.0.3' });
      expect(other.status).to.equal(200);
    });

    it('serves an address at its cap that holds idle keep-alive connections: the one idle the longest is closed for it', async () => {
      const first = await answeredOnce(svc.url, '127.0.0.4');
      const second = await answeredOnce(svc.url, '127.0.0.4');
      held.push(first.socket, second.socket);
      await settle(svc, 2);
      const third = await rawExchange(svc.url, { head: requestHead('GET', '/health', {}), localAddress: '127.0.0.4' });
      expect(third.status, 'served, not refused').to.equal(200);
      await first.closed;
      expect(second.socket.destroyed, 'the later one is kept').to.equal(false);
    });

    it('still refuses an address at its cap whose connections are busy, answered before or not (slow clients keep no one out by it)', async () => {
      // A request in progress on each: an upload whose body has not come yet, invited with
      // "100 Continue" once the app has it.
      const upload = 'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n';
      const invited = (socket: net.Socket): Promise<void> => new Promise((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
          if (text.includes('HTTP/1.1 100 Continue')) resolve();
        });
      });
      const answered = await answeredOnce(svc.url, '127.0.0.5');
      const fresh = await hold(svc.url, '127.0.0.5');
      held.push(answered.socket, fresh);
      await settle(svc, 2);
      const both = Promise.all([invited(answered.socket), invited(fresh)]);
      answered.socket.write(upload);
      fresh.write(upload);
      await both;
      const refused = await rawExchange(svc.url, { head: requestHead('GET', '/health', {}), localAddress: '127.0.0.5' });
      expectProblem(refused, 503, 'too-many-connections');
      expect(answered.socket.destroyed, 'the busy connection is kept').to.equal(false);
    });

    it('keeps CONNECTION_RESERVE for addresses holding few connections, then refuses everyone, and serves again once connections close', async () => {
      // 2 of 4 open: the last 2 go to addresses holding fewer than 2 / 2 = 1.
      held.push(await hold(svc.url, '127.0.0.2'), await hold(svc.url, '127.0.0.2'));
      held.push(await hold(svc.url, '127.0.0.3'));
      await settle(svc, 3);
      const second = await rawExchange(svc.url, { head: requestHead('GET', '/health/live', {}), localAddress: '127.0.0.3' });
      expectProblem(second, 503, 'too-many-connections');
      expect((second.body as { detail: string }).detail).to.match(/server has too many connections/);
      expectMatchesSpec(svc.api, 'getLiveness', second);

      held.push(await hold(svc.url, '127.0.0.4'));
      await settle(svc, 4);
      const full = await rawExchange(svc.url, {
        head: uploadRequest(image),
        localAddress: '127.0.0.5',
      });
      expectProblem(full, 503, 'too-many-connections');
      expectMatchesSpec(svc.api, 'classifyImage', full);

      for (const socket of held.splice(0)) socket.destroy();
      await settle(svc, 0);
      const again = await rawExchange(svc.url, { head: uploadRequest(image), localAddress: '127.0.0.5' });
      expect(again.status, again.text).to.equal(200);
      const metrics = (await receive(`${svc.url}/metrics`)).text;
      // This test's two refusals, the first test's and the busy connections' one.
      expect(sample(metrics, 'catdog_requests_rejected_total', 'reason="too-many-connections"')).to.equal(4);
    });
  });

  describe('refused and slow uploads', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startProtected({ server: { minBodyRateBytesPerSecond: 1024, bodyRateGraceMs: 1_000 } });
    });
    after(() => svc.close());

    it('closes the connection of a refused upload after its 401 instead of draining the body', async () => {
      const head = requestHead('POST', '/upload', { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': 1_000_000 });
      // 20 KB/s, above the minimum rate: the body alone would take 50 s to drain.
      const chunks = Array.from({ length: 1_000 }, () => Buffer.alloc(1_000, 'a'));
      const res = await rawExchangeUntilClosed(svc.url, { head, trickle: { chunks, intervalMs: 50 }, timeoutMs: 15_000 });
      expectProblem(res, 401, 'token-missing');
      expect(res.headers.get('connection')).to.equal('close');
      expectMatchesSpec(svc.api, 'classifyImage', res);
      expect(res.closedAfterMs - res.elapsedMs, 'closed within the 2 s linger after the answer').to.be.below(5_000);
    });

    it('cuts a body slower than MIN_BODY_RATE_BYTES_PER_SECOND with 408 naming the rate, and closes the connection', async () => {
      const token = await idp.token();
      const head = requestHead('POST', '/upload', {
        'Content-Type': 'multipart/form-data; boundary=b',
        'Content-Length': 200_000,
        Authorization: `Bearer ${token}`,
      });
      // 400 B/s: cut about 1.6 s in (1 s of grace + 1 s per 1024 bytes received).
      const chunks = Array.from({ length: 400 }, () => Buffer.alloc(100, 'a'));
      const res = await rawExchangeUntilClosed(svc.url, { head, trickle: { chunks, intervalMs: 250 }, timeoutMs: 20_000 });
      expectProblem(res, 408, 'request-timeout');
      expect((res.body as { detail: string }).detail).to.equal('The request body arrived slower than the minimum of 1024 bytes per second');
      expect(res.headers.get('connection')).to.equal('close');
      // Well before REQUEST_TIMEOUT_MS (30 s).
      expect(res.elapsedMs).to.be.below(10_000);
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('accepts a body that keeps the minimum rate, however long it takes past the grace period', async () => {
      const token = await idp.token();
      const noise = await sharp({ create: { width: 96, height: 96, channels: 3, background: '#c01010', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
        .png()
        .toBuffer();
      const body = multipart('b', [{ name: 'file', filename: 'noise.png', type: 'image/png', data: noise }]);
      const head = requestHead('POST', '/upload', { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': body.length, Authorization: `Bearer ${token}` });
      // 2 KiB every 250 ms (8 KiB/s, eight times the minimum), for longer than the grace period.
      expect(body.length, 'a body that takes longer than the grace').to.be.above(8 * 1024);
      const chunks = Array.from({ length: Math.ceil(body.length / 2048) }, (_, i) => body.subarray(i * 2048, (i + 1) * 2048));
      const res = await rawExchange(svc.url, { head, trickle: { chunks, intervalMs: 250 }, timeoutMs: 30_000 });
      expect(res.status, res.text).to.equal(200);
      expect(res.elapsedMs).to.be.above(1_000);
    });
  });

  describe('Expect: 100-continue', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startProtected({ maxUploadBytes: 512 * 1024 });
    });
    after(() => svc.close());

    /** Sends `head` and collects what arrives until `until` matches or the server closes; then maybe sends `body`. */
    function converse(head: string, body?: Buffer): Promise<string> {
      const { port } = new URL(svc.url);
      return new Promise((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1');
        let received = '';
        let sentBody = false;
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new Error(`no complete answer within 10 s; received ${JSON.stringify(received)}`));
        }, 10_000);
        socket.on('connect', () => socket.write(head));
        socket.on('data', (d: Buffer) => {
          received += d.toString('latin1');
          if (body && !sentBody && received.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
            sentBody = true;
            socket.write(body);
          }
          const final = received.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
          const end = final.indexOf('\r\n\r\n');
          const length = /content-length: (\d+)/i.exec(final.slice(0, end))?.[1];
          if (end >= 0 && length !== undefined && final.length >= end + 4 + Number(length)) {
            clearTimeout(timer);
            socket.destroy();
            resolve(received);
          }
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(received);
        });
      });
    }

    const form = (): Buffer => multipart('b', [{ name: 'file', filename: 'red.png', type: 'image/png', data: image }]);

    it('answers 401 without "100 Continue" when the token is missing, and closes', async () => {
      const classified = svc.classifications();
      const body = form();
      const received = await converse(requestHead('POST', '/upload', {
        'Content-Type': 'multipart/form-data; boundary=b',
        'Content-Length': body.length,
        Expect: '100-continue',
      }));
      expect(received).to.match(/^HTTP\/1\.1 401 /);
      expect(received).to.not.contain('100 Continue');
      expect(received).to.match(/\r\nConnection: close\r\n/i);
      expect(svc.classifications()).to.equal(classified);
    });

    it('answers 413 without "100 Continue" when the declared size is over the limit, even with a valid token', async () => {
      const token = await idp.token();
      const received = await converse(requestHead('POST', '/upload', {
        'Content-Type': 'multipart/form-data; boundary=b',
        'Content-Length': 10 * 1024 * 1024,
        Authorization: `Bearer ${token}`,
        Expect: '100-continue',
      }));
      expect(received).to.match(/^HTTP\/1\.1 413 /);
      expect(received).to.not.contain('100 Continue');
    });

    it('invites the body with "100 Continue" once the token is accepted, and classifies it', async () => {
      const token = await idp.token();
      const body = form();
      const received = await converse(requestHead('POST', '/upload', {
        'Content-Type': 'multipart/form-data; boundary=b',
        'Content-Length': body.length,
        Authorization: `Bearer ${token}`,
        Expect: '100-continue',
      }), body);
      expect(received).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      expect(received).to.contain('"prediction":"Cat"');
    });
  });

  describe('repeated headers', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startProtected();
    });
    after(() => svc.close());

    it('answers 400 to two Host headers (RFC 9112 §3.2)', async () => {
      const res = await rawExchange(svc.url, { head: 'GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n' });
      expectProblem(res, 400, 'bad-request');
      expect((res.body as { detail: string }).detail).to.equal('The request has more than one Host header');
      expectMatchesSpec(svc.api, 'getLiveness', res);
    });

    it('answers 400 to two Authorization headers, whichever of them is valid, without classifying', async () => {
      const token = await idp.token();
      const body = multipart('b', [{ name: 'file', filename: 'red.png', type: 'image/png', data: image }]);
      const classified = svc.classifications();
      for (const [first, second] of [[`Bearer ${token}`, 'Bearer forged'], ['Bearer forged', `Bearer ${token}`]]) {
        const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${body.length}\r\n` +
          `Authorization: ${first}\r\nAuthorization: ${second}\r\n\r\n`;
        const res = await rawExchange(svc.url, { head: Buffer.concat([Buffer.from(head), body]) });
        expectProblem(res, 400, 'bad-request');
        expect((res.body as { detail: string }).detail).to.equal('The request has more than one Authorization header');
        expect(res.text).to.not.contain(token);
        expectMatchesSpec(svc.api, 'classifyImage', res);
      }
      expect(svc.classifications()).to.equal(classified);
    });
  });
});
