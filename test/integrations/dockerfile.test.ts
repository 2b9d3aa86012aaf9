/**
 * The Dockerfile, read as text (no Docker engine runs in CI): its runtime stage is the one that
 * `make prod-smoke` reproduces, and what it promises an orchestrator holds for the service.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { readSpec, rootDir } from '../../src/spec.js';
import { readImageRuntime } from '../../scripts/image-node.js';

const dockerfile = readFileSync(path.join(rootDir, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
const smoke = readFileSync(path.join(rootDir, 'scripts', 'prod-smoke.ts'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };
const workflow = readFileSync(path.join(rootDir, '.github', 'workflows', 'ci.yml'), 'utf8');

/** Whether an `engines` range of `>=X…` and `^X…` alternatives admits major version `major`. */
function admitsMajor(range: string, major: number): boolean {
  return range.split('||').some((alternative) => {
    const [, operator, least] = /^\s*(>=|\^)\s*(\d+)/.exec(alternative) ?? [];
    return operator === '>=' ? Number(least) <= major : operator === '^' && Number(least) === major;
  });
}

/** Instructions of the last stage, as [keyword, arguments]. */
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1)!
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'))
  .map((line) => [line.split(/\s+/)[0]!.toUpperCase(), line.slice(line.indexOf(' ') + 1)] as const);
const all = (keyword: string) => runtime.filter(([k]) => k === keyword).map(([, args]) => args);

describe('Dockerfile', () => {
  it('is multi-stage, and the runtime stage installs production dependencies only', () => {
    expect(stages.length).to.be.at.least(2);
    expect(all('RUN').join('\n')).to.match(/npm ci --omit=dev/);
    expect(smoke).to.contain("'--omit=dev'");
  });

  it('runs as a user other than root', () => {
    const users = all('USER');
    expect(users, 'USER').to.have.length.greaterThan(0);
    expect(users.at(-1)).to.not.match(/^(root|0)(:|$)/);
  });

  it('starts the way package.json and prod-smoke start it', () => {
    const cmd = JSON.parse(all('CMD').at(-1)!) as string[];
    expect(cmd.join(' ')).to.equal(pkg.scripts.start);
    expect(smoke).to.contain(`'${cmd[1]}'`);
  });

  it('copies into the runtime stage exactly what prod-smoke copies', () => {
    const copied = all('COPY')
      .flatMap((args) => args.replace(/--from=\S+\s+/, '').split(/\s+/).slice(0, -1))
      .map((p) => p.replace(/^\/app\//, '').replace(/\/$/, ''));
    expect(new Set(copied)).to.deep.equal(
      new Set(['package.json', 'package-lock.json', '.npmrc', 'openapi', 'proto', 'dist', 'resources/models']),
    );
    for (const p of copied) expect(smoke, `prod-smoke copies ${p}`).to.contain(`'${path.basename(p)}'`);
  });

  it('checks its health on a public operation of the spec, and stops on SIGTERM', () => {
    const healthcheck = all('HEALTHCHECK').join(' ');
    const route = /127\.0\.0\.1:'\+\([^)]*\)\+'(\/[\w/]+)'/.exec(healthcheck)?.[1];
    expect(route, healthcheck).to.equal('/health');
    const operation = (readSpec().paths?.[route!] as { get?: { security?: unknown[] } } | undefined)?.get;
    expect(operation?.security, `${route} needs no token`).to.deep.equal([]);
    expect(all('STOPSIGNAL')).to.deep.equal(['SIGTERM']);
  });

  describe("the runtime's Node.js (scripts/image-node.ts reads it for prod-smoke and test-image-node)", () => {
    const { nodeMajor, env } = readImageRuntime();

    it('is the major of the runtime stage\'s node:<major> base image, with that stage\'s ENV', () => {
      const from = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile)?.[1];
      expect(nodeMajor).to.equal(Number(from));
      expect(env).to.include({ NODE_ENV: 'production', PORT: '8080', HOST: '0.0.0.0' });
      const parsed = readImageRuntime('ARG BASE=node:24-slim\nFROM ${BASE} AS build\nENV A=1\nFROM node:22.12-alpine\nENV NODE_OPTIONS="--a --b" \\\n  B=2\n');
      expect(parsed).to.deep.equal({ nodeMajor: 22, env: { NODE_OPTIONS: '--a --b', B: '2' } });
      expect(() => readImageRuntime('FROM debian:bookworm\n')).to.throw(/not FROM node:<major>/);
    });

    it('preloads jemalloc, which its runtime stage installs (sharp advises it on glibc; the benches and prod-smoke start with it)', () => {
      expect(env).to.include({ LD_PRELOAD: 'libjemalloc.so.2' });
      const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
      expect(runtimeStage).to.match(/apt-get install [^\n]*\blibjemalloc2\b/);
    });

    it("is admitted by package.json's engines and tested by the CI matrix", () => {
      expect(admitsMajor(pkg.engines.node, nodeMajor), `engines ${pkg.engines.node} admits Node ${nodeMajor}`).to.equal(true);
      const matrix = /^\s*node: \[([^\]]*)\]/m.exec(workflow)?.[1]?.split(',').map((v) => Number(v.trim()));
      expect(matrix, '.github/workflows/ci.yml matrix').to.include(nodeMajor);
    });

    it('is the one prod-smoke starts the service on, with the same ENV', () => {
      expect(smoke).to.match(/imageNode\(image\.nodeMajor/);
      expect(smoke.match(/\.\.\.image\.env/g), 'both start-ups and the predict command').to.have.length(3);
    });
  });

  it('takes the model from the MODEL_SOURCE build argument', () => {
    expect(dockerfile).to.match(/^ARG MODEL_SOURCE=/m);
    expect(dockerfile).to.match(/make model MODEL_SOURCE="\$MODEL_SOURCE"/);
  });
});
