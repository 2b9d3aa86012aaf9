/**
 * `make model` (scripts/fetch-model.ts) when the weights cannot be had: each failure names what
 * was tried, why it failed and how to fix it (MODEL_SOURCE), and nothing is written. Sources are
 * loopback servers, a closed port, local files and a reserved `.invalid` host name: no internet.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  WeightsUnavailable,
  defaultSource,
  describeFetchError,
  failureMessage,
  obtainWeights,
  weightsFile,
  weightsSha256,
  type WeightsFailure,
} from '../../scripts/fetch-model.js';
import { rootDir } from '../../src/spec.js';

const run = promisify(execFile);
const bytes = Buffer.from('not really an ONNX model, but these bytes have a known hash');
const bytesSha256 = createHash('sha256').update(bytes).digest('hex');

/** What obtainWeights threw for `source`, checked to be a WeightsUnavailable with `code`. */
async function failure(source: string, code: WeightsFailure, timeoutMs = 20_000): Promise<WeightsUnavailable> {
  const err = await obtainWeights({ source, sha256: bytesSha256, timeoutMs }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, source).to.be.instanceOf(WeightsUnavailable);
  const unavailable = err as WeightsUnavailable;
  expect(unavailable.code, unavailable.message).to.equal(code);
  return unavailable;
}

/** The printed message names the source, gives a reason matching `why` and the MODEL_SOURCE fix. */
function expectExplained(err: WeightsUnavailable, tried: string, why: RegExp): void {
  const message = failureMessage(err);
  expect(message).to.contain(`tried: ${tried}`);
  expect(message.split('\n').find((l) => l.startsWith('  why:'))).to.match(why);
  expect(message).to.match(/fix: .*MODEL_SOURCE/).and.contain(`make model MODEL_SOURCE=path/to/${weightsFile}`);
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('make model: obtaining the weights', function () {
  this.timeout(60_000);
  let dir: string;
  let server: http.Server;
  let base: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-fetch-model-'));
    server = http.createServer((req, res) => {
      if (req.url === '/weights.onnx') res.end(bytes);
      else if (req.url === '/moved.onnx') res.writeHead(302, { Location: '/gone.onnx' }).end();
      else if (req.url === '/silent.onnx') return; // never answers
      else res.writeHead(404).end('not here');
    });
    base = await listen(server);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('downloads over HTTP and reads local paths and file: URLs when the SHA-256 matches', async () => {
    const file = path.join(dir, 'good.onnx');
    await writeFile(file, bytes);
    for (const source of [`${base}/weights.onnx`, file, pathToFileURL(file).href]) {
      const got = await obtainWeights({ source, sha256: bytesSha256, timeoutMs: 20_000 });
      expect(Buffer.from(got).equals(bytes), source).to.equal(true);
    }
  });

  it('a 404 names the URL, the status and where a redirect led', async () => {
    const missing = await failure(`${base}/missing.onnx`, 'http-status');
    expectExplained(missing, `${base}/missing.onnx`, /HTTP 404 Not Found/);
    const moved = await failure(`${base}/moved.onnx`, 'http-status');
    expectExplained(moved, `${base}/moved.onnx`, new RegExp(`HTTP 404 Not Found \\(redirected to ${base}/gone.onnx\\)`));
  });

  it('a refused connection names the host and port', async () => {
    const closed = http.createServer();
    const url = `${await listen(closed)}/weights.onnx`;
    await new Promise((resolve) => closed.close(resolve));
    const err = await failure(url, 'connection-refused');
    expectExplained(err, url, new RegExp(`connection refused by 127\\.0\\.0\\.1 port ${new URL(url).port}`));
  });

  it('a host name that does not resolve is a DNS failure', async () => {
    // RFC 6761: `.invalid` never resolves; the resolver says so without the internet.
    const url = 'http://weights.invalid/mobilenetv2-12-int8.onnx';
    expectExplained(await failure(url, 'host-not-found'), url, /DNS failure: .*weights\.invalid/);
  });

  it('a server that does not answer in time is a timeout', async () => {
    const url = `${base}/silent.onnx`;
    expectExplained(await failure(url, 'timeout', 300), url, /timeout: no complete answer from 127\.0\.0\.1 within 0\.3 s/);
  });

  it('no route to the host, and TLS failures, are told apart from other network errors', () => {
    const url = new URL('https://models.example/weights.onnx');
    const fetchFailed = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
    expect(describeFetchError(fetchFailed('EHOSTUNREACH'), url, 1000)).to.deep.equal({
      code: 'no-route',
      reason: 'no route to models.example (EHOSTUNREACH: this machine has no network path to it)',
    });
    expect(describeFetchError(fetchFailed('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), url, 1000).code).to.equal('tls');
    expect(describeFetchError(fetchFailed('ECONNRESET'), url, 1000)).to.deep.equal({
      code: 'network',
      reason: 'network error with models.example: ECONNRESET',
    });
  });

  it('a missing path, a folder and an unsupported scheme are named as such', async () => {
    const missing = path.join(dir, 'nowhere', weightsFile);
    expectExplained(await failure(missing, 'file-not-found'), missing, /file not found/);
    const relative = path.relative(process.cwd(), missing);
    expectExplained(await failure(relative, 'file-not-found'), `${relative} (${missing})`, /file not found/);
    expectExplained(await failure(dir, 'not-a-file'), dir, /a folder, not a file/);
    expectExplained(await failure('s3://bucket/weights.onnx', 'unsupported-source'), 's3://bucket/weights.onnx', /s3: URLs are not supported/);
  });

  it('a file with another hash is refused, with both hashes', async () => {
    const file = path.join(dir, 'other.onnx');
    const other = Buffer.from('other bytes');
    await writeFile(file, other);
    const err = await failure(file, 'sha256-mismatch');
    const actual = createHash('sha256').update(other).digest('hex');
    expectExplained(err, file, new RegExp(`SHA-256 mismatch: got ${actual} \\(11 bytes\\), expected ${bytesSha256}`));
    expect(failureMessage(err)).to.contain('that file is not the pinned one');
  });

  it('the command prints one message, exits 1 and writes nothing', async () => {
    const cwd = await mkdtemp(path.join(dir, 'checkout-'));
    const source = `${base}/missing.onnx`;
    const err = await run(path.join(rootDir, 'node_modules', '.bin', 'tsx'), [path.join(rootDir, 'scripts', 'fetch-model.ts')], {
      cwd,
      env: { ...process.env, MODEL_SOURCE: source },
      timeout: 60_000,
    }).then(
      () => undefined,
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(err, 'exit status').to.not.equal(undefined);
    expect(err!.code).to.equal(1);
    expect(err!.stdout).to.equal('');
    expect(err!.stderr.trim().split('\n')).to.deep.equal([
      `make model: cannot obtain the backbone weights ${weightsFile}`,
      `  tried: ${source}`,
      '  why:   HTTP 404 Not Found',
      '  fix:   set MODEL_SOURCE to a URL or a local copy of the file, e.g.',
      `           make model MODEL_SOURCE=path/to/${weightsFile}`,
      `         The file is published at ${defaultSource}`,
      `         (SHA-256 ${weightsSha256}).`,
    ]);
    expect(existsSync(path.join(cwd, 'resources', 'models', weightsFile))).to.equal(false);
    expect(existsSync(path.join(cwd, 'resources', 'models', `${weightsFile}.tmp`))).to.equal(false);
  });
});
