/**
 * `make bench-profile`'s allocation table (`scripts/bench/heap-profile.ts`): V8's sampling heap
 * profiler driven through a real process's inspector, and the bytes charged to the categories
 * of the CPU profile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { allocations, sampleAllocations, type HeapProfile } from '../../scripts/bench/heap-profile.js';

/** A heap profile node: `url` of a package under node_modules, or of our code. */
const frame = (functionName: string, url: string, selfSize: number, children: HeapProfile['head'][] = []): HeapProfile['head'] => ({
  callFrame: { functionName, url, lineNumber: 9 },
  selfSize,
  children,
});

describe('bench: heap profile', function () {
  this.timeout(30_000);
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  it('charges each sampled byte to the package nearest its allocation, as the CPU profile charges its samples', () => {
    const koa = 'file:///app/node_modules/koa/lib/application.js';
    const multer = 'file:///app/node_modules/multer/lib/make-middleware.js';
    const own = 'file:///app/dist/src/http/upload.js';
    const profile: HeapProfile = {
      head: frame('(root)', '', 0, [
        frame('handleRequest', koa, 1000, [
          frame('readUpload', own, 300, [frame('makeMiddleware', multer, 4000, [frame('concat', 'node:buffer', 500)])]),
        ]),
      ]),
    };
    const sampled = allocations(profile);
    expect(sampled.totalBytes).to.equal(5800);
    expect(Object.fromEntries(sampled.byCategory)).to.deep.equal({
      'Koa and its helpers': 1000,
      'own code (src/http/upload)': 300,
      // Node's own code called by a package counts as that package's.
      'multipart (multer, busboy)': 4500,
    });
    expect(sampled.byFunction.get('makeMiddleware (multer/lib/make-middleware.js:10)')).to.equal(4000);
  });

  it("samples what a real process allocates while the window lasts, through its inspector", async () => {
    // A process that keeps allocating 64 KiB arrays in a function of its own.
    child = spawn(process.execPath, ['--inspect=127.0.0.1:0', '-e', 'setInterval(function churn() { for (let i = 0; i < 50; i++) new Array(8192).fill(i); }, 5)'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let stderr = '';
      child!.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const listening = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
        if (listening) resolve(Number(listening[1]));
      });
      child!.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
    });
    const { profile, result } = await sampleAllocations(port, () => new Promise<string>((resolve) => setTimeout(() => resolve('done'), 500)));
    expect(result).to.equal('done');
    const sampled = allocations(profile);
    // About 50 × 64 KiB every 5 ms for 0.5 s: hundreds of MB, most of it collected already.
    expect(sampled.totalBytes).to.be.greaterThan(10 * 1024 * 1024);
    const [top] = [...sampled.byFunction].sort((a, b) => b[1] - a[1]);
    expect(top![0]).to.match(/^churn \(/);
  });
});
