/**
 * The tools users reach for, run against a live service (the default model, tokens verified
 * against a real identity provider over HTTP): the Postman collection that `make postman` wrote under
 * newman, the Bruno collection of `bruno/` under Bruno's CLI, and the `predict` command with a
 * real token. Each must classify the course's cat.png (resources/samples/) as Cat, and be
 * refused without a token.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import newman from 'newman';
import { predict } from '../../src/client/index.js';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { createReadiness } from '../../src/lifecycle/readiness.js';
import { readSpec, rootDir } from '../../src/spec.js';
import { postmanDir } from '../../scripts/postman.js';
import { catImagePath } from '../fixtures/course-images.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';
import { verifierFor } from '../support/verifier.js';

const expectedPrediction = 'Cat';

describe('Postman, Bruno and the predict command against the live service', function () {
  this.timeout(120_000);
  let idp: IdentityProvider;
  let svc: RunningService;
  let tmp: string;
  /** `<tmp>/checkout/resources/samples/cat.png`: the same place relative to `bruno/` as in the repository. */
  let image: string;

  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'cdo-collections-'));
    image = path.join(tmp, 'checkout', 'resources', 'samples', 'cat.png');
    await mkdir(path.dirname(image), { recursive: true });
    await cp(catImagePath, image);
    idp = await startIdentityProvider();
    const verifier = verifierFor(idp);
    svc = await startService({
      model: { manifestPath: defaultModelManifest },
      securityHandlers: createSecurityHandlers(readSpec(), { verifier }),
      readiness: createReadiness('ready'),
      // The default connection budget: Bruno's CLI opens a connection per request and keeps each
      // open until it exits, so the collection's 35 requests pass the 32 an address may hold; the
      // idle ones are closed for the newcomers (src/http/connection-guard.ts).
    });
  });
  after(async () => {
    await svc?.close();
    await idp?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('newman runs the Postman collection: health, an upload with a token of its own, an upload without', async () => {
    // The very files `make postman` wrote (a prerequisite of `make test`).
    const read = async (name: string) => JSON.parse(await readFile(path.join(postmanDir, name), 'utf8')) as unknown;
    const collection = await read('cat-dog-other.postman_collection.json');
    const environment = await read('cat-dog-other.postman_environment.json');
    const summary = await new Promise<newman.NewmanRunSummary>((resolve, reject) => {
      newman.run(
        {
          collection: collection as newman.NewmanRunOptions['collection'],
          environment: environment as newman.NewmanRunOptions['environment'],
          // The collection's pre-request script obtains the token from the provider itself.
          envVar: [
            { key: 'baseUrl', value: svc.url },
            { key: 'tokenUrl', value: idp.tokenEndpoint },
            { key: 'expectedPrediction', value: expectedPrediction },
          ],
          workingDir: path.dirname(image),
          reporters: [],
          timeoutRequest: 30_000,
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      );
    });
    const failures = summary.run.failures.map((f) => `${f.source?.name}: ${f.error.message}`);
    expect(failures, 'newman failures').to.deep.equal([]);
    const ran = summary.run.executions.map((e) => `${e.item.name} → ${e.response?.code}`);
    expect(ran).to.include.members(['Health check → 200', 'Classify an image → 200', 'Classify an image without a token → 401']);
    const unchecked = summary.run.executions.filter((e) => !e.assertions?.length).map((e) => e.item.name);
    expect(unchecked, 'requests without a test').to.deep.equal([]);
    expect(summary.run.stats.assertions.failed).to.equal(0);
  });

  it('Bruno CLI runs the Bruno collection with a real token', async () => {
    const checkout = path.join(tmp, 'checkout', 'bruno');
    await cp(path.join(rootDir, 'bruno'), checkout, { recursive: true });
    const report = path.join(tmp, 'bruno-report.json');
    // One token for every request, /metrics and the management API included: an operator's.
    const token = await idp.token('operator-client', { scope: 'get::prediction get::metrics manage::models read::captures post::feedback' });
    const bru = path.join(rootDir, 'node_modules', '.bin', 'bru');
    // `--sandbox developer`: Bruno's default "safe" sandbox evaluates assertions synchronously in
    // QuickJS, whose WebAssembly module loads asynchronously when the CLI starts and is not awaited
    // on that path (@usebruno/js src/sandbox/quickjs/index.js, usebruno/bruno#7373): a first
    // response that arrives before the module fails every assertion with "Cannot read properties
    // of undefined (reading 'newContext')". The developer sandbox runs the collection's scripts
    // with Node's vm module and never waits for QuickJS. Every WebAssembly instantiation is delayed
    // here (test/fixtures/slow-wasm.cjs) so that the race, if it came back, would fail every run.
    const args = ['run', '--sandbox', 'developer', '--env', 'local', '--env-var', `baseUrl=${svc.url}`, '--env-var', `token=${token}`];
    args.push('--env-var', `expectedPrediction=${expectedPrediction}`, '--reporter-json', report);
    const env = { ...process.env, NODE_OPTIONS: `--require ${JSON.stringify(path.join(rootDir, 'test', 'fixtures', 'slow-wasm.cjs'))}` };
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(bru, args, { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', reject);
      child.on('exit', (c) => resolve({ code: c, output }));
    });
    expect(code, output).to.equal(0);
    expect(output).not.to.contain('Error executing the script');
    const [run] = JSON.parse(await readFile(report, 'utf8')) as {
      summary: { totalRequests: number; failedRequests: number; totalAssertions: number; failedAssertions: number; failedTests: number };
      results: { test: { filename: string }; response: { status: number } }[];
    }[];
    expect(run!.summary.failedRequests + run!.summary.failedAssertions + run!.summary.failedTests, output).to.equal(0);
    const statuses = Object.fromEntries(run!.results.map((r) => [r.test.filename, r.response.status]));
    expect(statuses).to.include({
      'health-check.bru': 200,
      'classify-an-image.bru': 200,
      'classify-an-image-without-a-token.bru': 401,
    });
    expect(run!.summary.totalAssertions).to.be.at.least(run!.summary.totalRequests);
  });

  it('predict classifies the image with a real token, and reports 401 without one', async () => {
    const out = { text: '', write(t: string) { this.text += t; } };
    const err = { text: '', write(t: string) { this.text += t; } };
    const code = await predict([image, '--url', svc.url, '--token', await idp.token()], { stdout: out, stderr: err });
    expect(code, err.text).to.equal(0);
    expect(out.text).to.match(new RegExp(`^${image}: ${expectedPrediction} \\(\\d\\.\\d{3}\\)\\n$`));
    const refused = { text: '', write(t: string) { this.text += t; } };
    expect(await predict([image, '--url', svc.url], { stdout: out, stderr: refused })).to.equal(1);
    expect(refused.text).to.contain('401 token-missing');
  });
});
