/**
 * The benchmark's load generator (`scripts/bench/load.ts`, its own HTTP/1.1 client) counts what
 * the contract's pass rule says, whatever framing a server uses and however it fails: run as
 * the bench runs it, in its own process, against loopback servers that misbehave on purpose.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { LoadResult } from '../../scripts/bench/load.js';
import { parseResponse } from '../../scripts/bench/http1.js';
import { rootDir } from '../../src/spec.js';
import { solidImage } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { startService } from '../support/service.js';

const run = promisify(execFile);
const prediction = JSON.stringify({ prediction: 'Cat', values: [0.9, 0.05, 0.05] });

/** What a server received: the body of each request, in order. */
interface Seen {
  readonly bodies: Buffer[];
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function load(port: number, dir: string, args: string[]): Promise<LoadResult> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', path.join(rootDir, 'scripts', 'bench', 'load.ts'), '--url', `http://127.0.0.1:${port}/upload`, ...args, dir],
    { cwd: rootDir, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult;
}

/** A node:http server that answers the `n`th request (from 0) with `answer`. */
function httpServer(seen: Seen, answer: (n: number, res: http.ServerResponse) => void): http.Server {
  let n = 0;
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.bodies.push(Buffer.concat(chunks));
      answer(n++, res);
    });
  });
}

describe('benchmark load generator', function () {
  this.timeout(90_000);
  let dir: string;
  const image = Buffer.alloc(150_000, 7);

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bench-load-'));
    writeFileSync(path.join(dir, 'a.png'), image);
    writeFileSync(path.join(dir, 'b.jpg'), image.subarray(0, 90_000));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--v2-batch N: binary V2 requests of N images, which the real service answers, counted with N labels as passed', async () => {
    const images = mkdtempSync(path.join(os.tmpdir(), 'bench-v2-'));
    const svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
    try {
      for (const colour of ['red', 'green', 'blue'] as const) writeFileSync(path.join(images, `${colour}.png`), await solidImage(colour));
      const { port } = new URL(svc.url);
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', path.join(rootDir, 'scripts', 'bench', 'load.ts'), '--url', `http://127.0.0.1:${port}/v2/models/catdog/infer`, '--v2-batch', '4', '-c', '2', '-n', '6', images],
        { cwd: rootDir, timeout: 60_000 },
      );
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult;
      expect(result).to.include({ ok: 6, errors: 0, imagesPerRequest: 4 });
      expect(svc.classifications(), 'every image of every request classified').to.be.at.least(24);
    } finally {
      await svc.close();
      rmSync(images, { recursive: true, force: true });
    }
  });

  it('sends each image as a multipart "file" part on keep-alive connections and counts 200 + prediction as passed', async () => {
    const seen: Seen = { bodies: [] };
    const sockets = new Set<net.Socket>();
    const server = httpServer(seen, (_n, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(prediction));
    server.on('connection', (s: net.Socket) => sockets.add(s));
    try {
      const result = await load(await listen(server), dir, ['-c', '3', '-n', '30']);
      expect(result).to.include({ ok: 30, errors: 0 });
      expect(result.p99Ms).to.be.a('number');
      expect(seen.bodies).to.have.length(30);
      // The three clients' requests arrive in any order: look for a.png's, not at the first.
      const withA = seen.bodies.find((body) => body.includes('filename="a.png"'));
      expect(withA?.toString('latin1')).to.match(/^--[^\r]+\r\nContent-Disposition: form-data; name="file"; filename="a\.png"\r\nContent-Type: image\/png\r\n\r\n/);
      expect(withA?.indexOf(image)).to.be.greaterThan(0);
      expect(sockets.size, 'one connection per concurrent client').to.equal(3);
    } finally {
      server.close();
    }
  });

  it('reads chunked responses, and counts a 200 without a prediction or with a body that is not JSON as errors', async () => {
    const seen: Seen = { bodies: [] };
    const server = httpServer(seen, (n, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // no length: node:http sends it chunked
      if (n % 3 === 0) {
        res.write(prediction.slice(0, 10));
        res.end(prediction.slice(10));
      }
      else if (n % 3 === 1) res.end(JSON.stringify({ status: 'OK' }));
      else res.end('<html>');
    });
    try {
      const result = await load(await listen(server), dir, ['-c', '2', '-n', '30']);
      expect(result).to.deep.include({ ok: 10, errors: 20, errorKinds: { 'no prediction': 10, 'not JSON': 10 } });
    } finally {
      server.close();
    }
  });

  it('counts refusals by status and carries on after the server closes the connection', async () => {
    const seen: Seen = { bodies: [] };
    const server = httpServer(seen, (n, res) => {
      if (n % 4 === 1) res.writeHead(503, { 'content-type': 'application/problem+json', connection: 'close' }).end('{"status":503}');
      else if (n % 4 === 3) res.socket?.destroy();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(prediction);
    });
    try {
      const result = await load(await listen(server), dir, ['-c', '2', '-n', '40']);
      expect(result.ok).to.equal(20);
      expect(result.errorKinds['HTTP 503']).to.equal(10);
      // A connection destroyed mid-request: the kind the socket reports (reset or closed).
      const dropped = Object.entries(result.errorKinds).filter(([k]) => k !== 'HTTP 503');
      expect(dropped.reduce((a, [, v]) => a + v, 0)).to.equal(10);
    } finally {
      server.close();
    }
  });

  it('gives up on a request after --timeout and counts it as a timeout', async () => {
    const server = net.createServer(() => {}); // accepts, never answers
    try {
      const result = await load(await listen(server), dir, ['-c', '1', '-n', '1', '--timeout', '0.5']);
      expect(result).to.deep.include({ ok: 0, errors: 1, errorKinds: { timeout: 1 } });
    } finally {
      server.close();
    }
  });

  describe('response parser', () => {
    const ok = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${prediction.length}\r\n\r\n${prediction}`);

    it('waits for the whole response, byte by byte, and says where the next one starts', () => {
      for (let i = 0; i < ok.length; i++) expect(parseResponse(ok.subarray(0, i)), `after ${i} bytes`).to.equal(undefined);
      const two = Buffer.concat([ok, ok]);
      const parsed = parseResponse(two)!;
      expect(parsed.response.status).to.equal(200);
      expect(parsed.response.body.toString()).to.equal(prediction);
      expect(parsed.length).to.equal(ok.length);
      expect(parsed.close).to.equal(false);
    });

    it('joins chunks, skips trailers, and honours Connection: close and HTTP/1.0', () => {
      const chunkedResponse = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4;ext=1\r\n{"pr\r\n3\r\nedi\r\n0\r\nX-Trailer: 1\r\n\r\n');
      expect(parseResponse(chunkedResponse.subarray(0, chunkedResponse.length - 1))).to.equal(undefined);
      const parsed = parseResponse(chunkedResponse)!;
      expect(parsed.response.body.toString()).to.equal('{"predi');
      expect(parsed.length).to.equal(chunkedResponse.length);
      expect(parsed.close).to.equal(true);
      expect(parseResponse(Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'))!.close).to.equal(true);
    });

    it('refuses framing it cannot follow', () => {
      expect(() => parseResponse(Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody'))).to.throw(/Content-Length or chunked/);
      expect(() => parseResponse(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).to.throw(/status line/);
      expect(() => parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'))).to.throw(/chunk size/);
    });
  });
});
