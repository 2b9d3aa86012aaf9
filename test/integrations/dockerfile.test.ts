/**
 * The Dockerfile, read as text (no Docker engine runs in CI): its runtime stage is the one that
 * `make prod-smoke` reproduces, and what it promises an orchestrator holds for the service.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { readSpec, rootDir } from '../../src/spec.js';

const dockerfile = readFileSync(path.join(rootDir, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
const smoke = readFileSync(path.join(rootDir, 'scripts', 'prod-smoke.ts'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

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
      new Set(['package.json', 'package-lock.json', '.npmrc', 'openapi', 'dist', 'resources/models']),
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

  it('takes the model from the MODEL_SOURCE build argument', () => {
    expect(dockerfile).to.match(/^ARG MODEL_SOURCE=/m);
    expect(dockerfile).to.match(/make model MODEL_SOURCE="\$MODEL_SOURCE"/);
  });
});
