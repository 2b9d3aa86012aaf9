/**
 * The `predict` command: what a user sees on the terminal and the exit status, against the real
 * service; once in-process (`predict()`), once as the executable.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { predict } from '../../src/client/index.js';
import { rootDir } from '../../src/spec.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { solidImage } from '../fixtures/images.js';
import { startService, type RunningService } from '../support/service.js';

async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await predict(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
  });
  return { code, stdout, stderr };
}

describe('predict command', () => {
  let svc: RunningService;
  let dir: string;
  let red: string;
  let green: string;
  let text: string;
  before(async () => {
    svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-predict-'));
    red = path.join(dir, 'red.png');
    green = path.join(dir, 'green.jpg');
    text = path.join(dir, 'notes.txt');
    await writeFile(red, await solidImage('red'));
    await writeFile(green, await solidImage('green', 'jpeg'));
    await writeFile(text, 'not an image');
  });
  after(async () => {
    await svc.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints one line per image with the prediction and its probability', async () => {
    const { code, stdout, stderr } = await run([red, green, '--url', svc.url]);
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
    const lines = stdout.trim().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(new RegExp(`^${red}: Cat \\(\\d\\.\\d{3}\\)$`));
    expect(lines[1]).to.match(new RegExp(`^${green}: Dog \\(\\d\\.\\d{3}\\)$`));
  });

  it('with --json prints the service answer plus the file, one object per line', async () => {
    const { code, stdout } = await run(['--json', red, green], { PREDICT_URL: svc.url });
    expect(code).to.equal(0);
    const answers = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(answers.map((a) => [a.file, a.prediction])).to.deep.equal([[red, 'Cat'], [green, 'Dog']]);
    expect(answers[0]!.labels).to.deep.equal(['Cat', 'Dog', 'Other']);
  });

  it('reports a refused file with its problem code, goes on with the next, and exits 1', async () => {
    const { code, stdout, stderr } = await run([text, red, '--url', svc.url]);
    expect(code).to.equal(1);
    expect(stderr).to.equal(`${text}: 422 image-undecodable: The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)\n`);
    expect(stdout).to.match(/red\.png: Cat/);
  });

  it('with --json reports a refusal as the problem object', async () => {
    const { code, stdout } = await run([text, '--json', '--url', svc.url]);
    expect(code).to.equal(1);
    expect(JSON.parse(stdout)).to.include({ file: text, status: 422, code: 'image-undecodable' });
  });

  it('reports a file it cannot read, and a service it cannot reach', async () => {
    const missing = await run([path.join(dir, 'absent.png'), '--url', svc.url]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('absent.png: cannot read: ENOENT');
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const unreachable = await run([red, '--url', `http://127.0.0.1:${closed}`]);
    expect(unreachable.code).to.equal(1);
    expect(unreachable.stderr).to.contain('no answer from the service: ECONNREFUSED');
  });

  it('--protocol v2 sends every image in one Open Inference Protocol request, one line per image as before', async () => {
    const images = async (): Promise<{ count: number; sum: number }> => {
      const text = await svc.app.metrics.registry.getSingleMetricAsString('catdog_inference_request_images');
      const read = (name: string): number => Number(new RegExp(`^catdog_inference_request_images_${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return { count: read('count'), sum: read('sum') };
    };
    const before = await images();
    const { code, stdout, stderr } = await run(['--protocol', 'v2', red, green, '--url', svc.url]);
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).to.match(new RegExp(`^${red}: Cat \\(\\d\\.\\d{3}\\)$`));
    expect(lines[1]).to.match(new RegExp(`^${green}: Dog \\(\\d\\.\\d{3}\\)$`));
    const after = await images();
    expect([after.count - before.count, after.sum - before.sum], 'one request of two images').to.deep.equal([1, 2]);
    const json = await run(['--protocol', 'v2', '--json', red, '--url', svc.url]);
    expect(JSON.parse(json.stdout)).to.include({ file: red, prediction: 'Cat', model: 'catdog/1' });
  });

  it('--protocol v2: a batch refused for one image reports it on every file, and a file it cannot read apart', async () => {
    const { code, stdout, stderr } = await run(['--protocol', 'v2', red, text, path.join(dir, 'absent.png'), '--url', svc.url]);
    expect(code).to.equal(1);
    expect(stdout).to.equal('');
    const lines = stderr.trim().split('\n');
    expect(lines[0]).to.equal(`${red}: 422 image-undecodable: Image 1: The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)`);
    expect(lines[1]).to.equal(`${text}: 422 image-undecodable: Image 1: The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)`);
    expect(lines[2]).to.contain('absent.png: cannot read: ENOENT');
    const unknown = await run(['--protocol', 'v3', red]);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('--protocol is upload, v2 or grpc, not v3');
  });

  it('exits 2 with the usage on no image or an unknown option, 0 with --help', async () => {
    const none = await run([]);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.contain('no image given').and.contain('usage: predict IMAGE...');
    const unknown = await run([red, '--colour']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("'--colour'");
    const help = await run(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('--token TOKEN');
  });

  it('runs as an executable, with the exit status of the command', async () => {
    const tsx = path.join(rootDir, 'node_modules', '.bin', 'tsx');
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(tsx, ['src/client/cli.ts', red, text, '--url', svc.url], {
        cwd: rootDir,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout }));
    });
    expect(result.stdout).to.match(/red\.png: Cat/);
    expect(result.code).to.equal(1);
  });
});
