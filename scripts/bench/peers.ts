/**
 * The performance peers `make bench` measures the service against, from the shared development
 * folder beside the checkout (`../shared/bench`, its README): the same contract and model, served
 * by Python.
 *
 * - `peer-fastapi`, peer 1: the course's FastAPI service, OpenCV DNN, on Debian's packages;
 * - `peer-ort`, peer 2: FastAPI + onnxruntime, uvloop and httptools, one worker process per core,
 *   in a virtual environment its `run.sh` fills from the machine's package index on first use.
 *
 * A peer that cannot run here is skipped with the reason and what would fix it; the bench then
 * reports the ratios against the other one ("the faster peer" is the faster of those measured).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type Server } from './processes.js';

/** A peer server. */
export interface Peer {
  /** Its target name in the bench's figures. */
  readonly name: string;
  /** What it is, for people. */
  readonly label: string;
  /** `run.sh PORT`: execs the server. */
  readonly script: string;
  /** Why it cannot run here (and how to make it run), or undefined when it may. */
  missing(): string | undefined;
  /** Its runtime's versions, once it runs (for the raw figures). */
  versions(): string | undefined;
  /** How long its first start may take, in milliseconds (peer 2 installs its packages then). */
  readonly readyTimeoutMs: number;
}

/** Debian packages peer 1 runs on (../shared/bench/README.md). */
export const PEER_FASTAPI_PACKAGES = 'python3-fastapi python3-uvicorn python3-multipart python3-opencv python3-numpy python3-pil';

/** Runs a Python one-liner; its trimmed output, or undefined when it fails. */
function python(interpreter: string, code: string, env: NodeJS.ProcessEnv): string | undefined {
  const run = spawnSync(interpreter, ['-c', code], { env, encoding: 'utf8', timeout: 30_000 });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** `module version` pairs, as the modules report them (Debian's OpenCV has no distribution metadata). */
function moduleVersions(interpreter: string, modules: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const code = `import importlib\nout = []\nfor name in ${JSON.stringify(modules)}:\n    try: out.append(name + " " + str(getattr(importlib.import_module(name), "__version__", "?")))\n    except Exception: pass\nprint(", ".join(out))`;
  return python(interpreter, code, env);
}

/** The virtual environment peer 2's run.sh uses (the same rule as the script). */
export function peerOrtVenv(env: NodeJS.ProcessEnv): string {
  return env.VENV ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? os.homedir(), '.cache'), 'peer-ort-venv');
}

/** The peers of `benchDir` (`../shared/bench`), in the order the bench measures them. */
export function benchPeers(benchDir: string, env: NodeJS.ProcessEnv = process.env): Peer[] {
  const fastapi = path.join(benchDir, 'peer-fastapi', 'run.sh');
  const ort = path.join(benchDir, 'peer-ort', 'run.sh');
  const venvPython = path.join(peerOrtVenv(env), 'bin', 'python');
  return [
    {
      name: 'peer-fastapi',
      label: 'peer 1: FastAPI + OpenCV DNN (Debian packages, one process)',
      script: fastapi,
      readyTimeoutMs: 120_000,
      missing() {
        if (!existsSync(fastapi)) return `${fastapi} is absent`;
        // It runs on Debian's Python and packages, not on a pyenv or venv one.
        if (python('/usr/bin/python3', 'import fastapi, uvicorn, multipart, cv2, numpy', env) === undefined) {
          return `its Python packages are missing: apt-get install -y ${PEER_FASTAPI_PACKAGES}`;
        }
        return undefined;
      },
      versions: () => moduleVersions('/usr/bin/python3', ['fastapi', 'uvicorn', 'cv2', 'numpy'], env),
    },
    {
      name: 'peer-ort',
      label: 'peer 2: FastAPI + onnxruntime, uvloop/httptools, one worker per core',
      script: ort,
      // First use: a virtual environment and its packages from the local index (about a minute).
      readyTimeoutMs: 600_000,
      missing() {
        if (!existsSync(ort)) return `${ort} is absent`;
        if (existsSync(venvPython)) return undefined;
        // run.sh would create it with `python3 -m venv`, which needs ensurepip (Debian: python3-venv).
        if (python('python3', 'import venv, ensurepip', env) === undefined) {
          return `no virtual environment at ${path.dirname(path.dirname(venvPython))} and python3 cannot create one (python3 with venv and ensurepip needed; Debian: apt-get install -y python3-venv)`;
        }
        return undefined;
      },
      versions: () =>
        moduleVersions(venvPython, ['onnxruntime', 'fastapi', 'uvicorn', 'uvloop', 'httptools', 'cv2', 'numpy'], env),
    },
  ];
}

/** A peer that runs, or why not. */
export type PeerStart =
  | { readonly peer: Peer; readonly server: Server; readonly versions: string | undefined }
  | { readonly peer: Peer; readonly skipped: string };

/**
 * Starts `peer` on `port` if it can run here; never rejects: a peer that is missing something,
 * or fails to start (its installer or server exits, or it does not answer in time), is skipped
 * with the reason.
 */
export async function startPeer(peer: Peer, port: number, env: NodeJS.ProcessEnv = process.env): Promise<PeerStart> {
  const missing = peer.missing();
  if (missing) return { peer, skipped: missing };
  try {
    const server = await startServer(peer.name, peer.script, [String(port)], port, '/health', env, {
      readyTimeoutMs: peer.readyTimeoutMs,
      stderrTailLines: 8,
    });
    return { peer, server, versions: peer.versions() };
  } catch (err) {
    return { peer, skipped: `it did not start: ${(err as Error).message}` };
  }
}
