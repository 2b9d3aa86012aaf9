/**
 * `make bench` against both peers (issue #23): a peer that cannot run is skipped with its reason,
 * not a failed bench; a peer with worker processes is measured with them; ratios are taken against
 * each peer and the faster one of each round; the CPU's int8 flags and the 12 MP photos are what
 * the report says they are.
 */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { benchCpu, describeCpu } from '../../scripts/bench/cpu.js';
import { largeJpegs } from '../../scripts/bench/large-images.js';
import { benchPeers, startPeer } from '../../scripts/bench/peers.js';
import { issueTargets, peerTable, type Ratios } from '../../scripts/bench/print.js';
import { processFigures, processTree, processTreeFigures } from '../../scripts/bench/processes.js';
import { FASTER_PEER, meets, peerRatios, ratio, roundPoints, rps, withFasterPeer, type Point } from '../../scripts/bench/report.js';
import { solidImage } from '../fixtures/images.js';

/** A point as the bench records it; only what the ratios read. */
function point(target: string, round: number, concurrency: number, rpsValue: number, p99Ms = 100, slice?: number): Point {
  return {
    target, round, concurrency, rps: rpsValue, p99Ms, p50Ms: 50, p90Ms: 90, maxMs: 120, ok: Math.round(rpsValue * 5), errors: 0,
    durationS: 5, clientCpuMsPerRequest: 0.3, ...(slice ? { slice } : {}),
  };
}

function script(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}

/** Whether `pid` runs (a killed process whose parent is gone may linger as a zombie until init reaps it). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

describe('bench against both peers', function () {
  this.timeout(60_000);

  describe('ratios', () => {
    // Round 1: peer-ort is faster at c=16; round 2: peer-fastapi is (a neighbour's job, say).
    const points = roundPoints([
      point('service', 1, 16, 90, 200, 1), point('service', 1, 16, 110, 220, 2),
      point('peer-fastapi', 1, 16, 40, 900), point('peer-ort', 1, 16, 150, 250),
      point('service', 2, 16, 100, 200), point('peer-fastapi', 2, 16, 120, 400), point('peer-ort', 2, 16, 80, 300),
      point('service-12mp', 1, 4, 20), point('peer-fastapi-12mp', 1, 4, 4), point('peer-ort-12mp', 1, 4, 5),
    ]);
    const withFaster = withFasterPeer(withFasterPeer(points, ['peer-fastapi', 'peer-ort']), ['peer-fastapi', 'peer-ort'], '-12mp');

    it("combines a round's slices: requests over their total time", () => {
      expect(points.find((p) => p.target === 'service' && p.round === 1)).to.include({ rps: 100, ok: 1000, durationS: 10 });
    });

    it('takes the faster peer of each round, by requests per second, with its own p99', () => {
      const faster = withFaster.filter((p) => p.target === FASTER_PEER);
      expect(faster.map((p) => [p.round, p.fasterOf, p.rps, p.p99Ms])).to.deep.equal([[1, 'peer-ort', 150, 250], [2, 'peer-fastapi', 120, 400]]);
      // service ÷ faster: 100/150 and 100/120, median of the two rounds.
      expect(ratio(withFaster, 'service', FASTER_PEER, 16, rps)).to.deep.equal({ median: 0.75, min: 0.67, max: 0.83, rounds: 2 });
    });

    it('reports the service against each peer and the faster one, at each concurrency and on 12 MP JPEGs', () => {
      const ort = peerRatios(withFaster, 'service', 'peer-ort', [16]);
      expect(ort.rps[16]).to.deep.include({ min: 0.67, max: 1.25 });
      expect(ort.largeRps).to.deep.include({ median: 4 });
      const faster = peerRatios(withFaster, 'service', FASTER_PEER, [16]);
      expect(faster.p99[16]).to.deep.include({ min: 0.5, max: 0.84 });
      expect(faster.largeRps).to.deep.include({ median: 4 });
      expect(faster.fasterRounds).to.deep.equal({ 16: { 'peer-ort': 1, 'peer-fastapi': 1 }, '12mp': { 'peer-ort': 1 } });
    });

    it('prints a column per peer and one for the faster, and says so when no peer ran', () => {
      const peers = Object.fromEntries(['peer-fastapi', 'peer-ort', FASTER_PEER].map((p) => [p, peerRatios(withFaster, 'service', p, [16])]));
      const table = peerTable(peers, [16]).join('\n');
      expect(table).to.contain('| service ÷ … | peer-fastapi | peer-ort | faster peer | target (faster peer) |');
      expect(table).to.match(/\| req\/s at c=16 \| 1\.67 \(0\.83–2\.5\) \| 0\.96 \(0\.67–1\.25\) \| 0\.75 \(0\.67–0\.83\) \| ≥ 1\.3 \|/);
      expect(table).to.contain('12 MP: peer-ort ×1');
      expect(peerTable({}, [16])).to.deep.equal(['service ÷ peers: n/a (no peer ran)']);
    });

    it("reads issue #23's targets against the faster peer; unmeasured ones are n/a, not failures", () => {
      const faster = peerRatios(withFaster, 'service', FASTER_PEER, [4, 16]);
      const targets = issueTargets({ peers: { [FASTER_PEER]: faster }, variants: {} } as unknown as Ratios);
      const byLabel = Object.fromEntries(targets.map(({ target, spread }) => [target.label, meets(target, spread)]));
      expect(byLabel).to.deep.include({
        'service ÷ faster peer, req/s at c=16': false,
        'service ÷ faster peer, req/s at c=4': undefined,
        'service ÷ faster peer, req/s on 12 MP JPEGs at c=4': true,
        'service ÷ bare, req/s at c=16': undefined,
      });
    });
  });

  describe('CPU', () => {
    const cpus = [{ model: 'AMD EPYC 9R14', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } }];

    it('names the int8 flags present and absent, and whether u8s8 sums are exact', () => {
      const vnni = benchCpu({ arch: 'x64', flags: new Set(['sse4_2', 'avx2', 'avx512bw', 'avx512_vnni']) }, [...cpus, ...cpus]);
      expect(vnni).to.deep.include({ cores: 2, model: 'AMD EPYC 9R14', int8Flags: ['avx2', 'avx512bw', 'avx512_vnni'], u8s8Exact: true });
      expect(describeCpu(vnni)).to.match(/^2 × AMD EPYC 9R14; int8 flags: avx2 avx512bw avx512_vnni \(not: avx_vnni amx_tile amx_int8\); .*exact/);
      const avx2 = benchCpu({ arch: 'x64', flags: new Set(['avx2']) }, cpus);
      expect(avx2.u8s8Exact).to.equal(false);
      expect(describeCpu(avx2)).to.contain('saturate');
    });
  });

  describe('peers', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'bench-peers-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('skips a peer that is absent, with where it was looked for', async () => {
      const [fastapi] = benchPeers(path.join(dir, 'bench'));
      const started = await startPeer(fastapi!, 0);
      expect(started).to.have.property('skipped').that.matches(/peer-fastapi\/run\.sh is absent$/);
    });

    it('skips peer 2 where no virtual environment can be made, and says what is missing', async () => {
      script(dir, 'bench/peer-ort/run.sh', '#!/bin/sh\nexit 1\n');
      // A python3 that cannot create a venv (Debian without python3-venv).
      script(dir, 'bin/python3', '#!/bin/sh\necho "No module named ensurepip" >&2\nexit 1\n');
      const env = { ...process.env, PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, VENV: path.join(dir, 'no-venv') };
      const [, ort] = benchPeers(path.join(dir, 'bench'), env);
      const started = await startPeer(ort!, 0, env);
      expect(started).to.have.property('skipped').that.contains('python3 cannot create one').and.contains('python3-venv');
    });

    it('skips a peer whose installer fails, quoting its last lines, and kills what it started', async () => {
      const pidFile = path.join(dir, 'child.pid');
      script(dir, 'bench/peer-ort/run.sh', `#!/bin/sh\nsleep 300 &\necho $! > ${pidFile}\necho "ERROR: No matching distribution found for onnxruntime" >&2\nwait\n`);
      script(dir, 'venv/bin/python', '#!/bin/sh\nexit 1\n');
      const env = { ...process.env, VENV: path.join(dir, 'venv') };
      const [, ort] = benchPeers(path.join(dir, 'bench'), env);
      const started = await startPeer({ ...ort!, readyTimeoutMs: 1500 }, 1, env);
      expect(started).to.have.property('skipped').that.matches(/did not start: .*did not answer 200 within 1500 ms.*\n.*No matching distribution/s);
      const child = Number(readFileSync(pidFile, 'utf8'));
      // A killed process takes a moment to go on a busy machine.
      for (let i = 0; i < 40 && alive(child); i++) await new Promise((r) => setTimeout(r, 50));
      expect(alive(child), 'the installer left behind').to.equal(false);
    });

    it("measures a peer's worker processes with it, and stops them all", async () => {
      // A server whose work happens in a child process, as uvicorn's --workers.
      const server = `
        const http = require('node:http'); const { fork } = require('node:child_process');
        if (process.argv[2] === 'worker') { const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }; while (cpu() < 400); process.send('done'); setInterval(() => {}, 1000); }
        else { const w = fork(__filename, ['worker']); w.once('message', () => http.createServer((q, s) => s.end('{"status":"OK"}')).listen(Number(process.env.PORT), '127.0.0.1'));
               process.on('SIGTERM', () => { w.kill(); process.exit(0); }); }`;
      writeFileSync(path.join(dir, 'server.cjs'), server);
      const port = 18000 + Math.floor(Math.random() * 400);
      script(dir, 'bench/peer-ort/run.sh', `#!/bin/sh\nPORT=$1 exec "${process.execPath}" ${path.join(dir, 'server.cjs')}\n`);
      script(dir, 'venv/bin/python', '#!/bin/sh\necho "onnxruntime 1.0"\n');
      const env = { ...process.env, VENV: path.join(dir, 'venv') };
      const [, ort] = benchPeers(path.join(dir, 'bench'), env);
      const started = await startPeer(ort!, port, env);
      if (!('server' in started)) throw new Error(started.skipped);
      try {
        expect(started.versions).to.equal('onnxruntime 1.0');
        const tree = processTree(started.server.pid);
        expect(tree).to.have.length(2);
        expect(processTreeFigures(started.server.pid).cpuMs - processFigures(started.server.pid).cpuMs).to.be.at.least(300);
      } finally {
        const tree = processTree(started.server.pid);
        await started.server.stop();
        for (let i = 0; i < 40 && tree.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
        expect(tree.filter(alive), 'processes left').to.deep.equal([]);
      }
    });
  });

  describe('12 MP JPEGs', () => {
    it('are made once from the photos, at the size asked, and found again', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-large-'));
      try {
        const source = path.join(dir, 'photos');
        mkdirSync(source);
        for (const colour of ['red', 'green', 'blue'] as const) writeFileSync(path.join(source, `${colour}.png`), await solidImage(colour));
        const made = await largeJpegs(source, path.join(dir, 'cache'), { count: 2, width: 400, height: 300 });
        const files = readdirSync(made).filter((n) => n.endsWith('.jpg'));
        expect(files).to.have.length(2);
        const meta = await sharp(path.join(made, files[0]!)).metadata();
        expect(meta).to.include({ format: 'jpeg', width: 400, height: 300 });
        const mtime = statSync(path.join(made, files[0]!)).mtimeMs;
        expect(await largeJpegs(source, path.join(dir, 'cache'), { count: 2, width: 400, height: 300 })).to.equal(made);
        expect(statSync(path.join(made, files[0]!)).mtimeMs, 'not made again').to.equal(mtime);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
