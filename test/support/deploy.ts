/**
 * The memory figures of `deploy/`: the container's limit and the settings that bear on memory,
 * so that tests and `make attack` run the service as the pod would.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { rootDir } from '../../src/spec.js';
import { MEMORY_ENV, readImageRuntime } from '../../scripts/image-node.js';

/** The pod's memory as `deploy/` sets it. */
export interface DeployMemory {
  /** The container's memory limit, in bytes. */
  readonly limitBytes: number;
  /** The image's `ENV` that bears on memory, the configmap's memory settings and the container's `MALLOC_*` variables. */
  readonly env: Readonly<Record<string, string>>;
}

/** Settings whose values change how much memory the service may use. */
const MEMORY_SETTINGS = [
  'DECODE_MEMORY_BUDGET_MIB', 'MAX_CONNECTIONS', 'MAX_CONNECTIONS_PER_ADDRESS', 'MAX_UPLOAD_BYTES',
  'MAX_LARGE_DECODES', 'MAX_LARGE_QUEUE', 'MAX_INFLIGHT', 'MAX_QUEUE', 'MAX_INFER_BODY_BYTES', 'INFER_BODY_MEMORY_MIB',
];

/**
 * The production process's resident peak, which deploy/'s limits count: its level under sustained
 * load at c=16 (500–529 MiB, `make bench-memory`), above its peak through bursts of cat.png
 * (411–434 MiB, `make prod-smoke`), on the image's Node 24 and ENV, jemalloc, two inference
 * workers (deployment.yaml).
 */
export const PROCESS_PEAK_MIB = 536;

async function firstDocument(file: string): Promise<unknown> {
  return parseAllDocuments(await readFile(path.join(rootDir, 'deploy', file), 'utf8'))[0]!.toJS() as unknown;
}

/** Reads the Dockerfile's runtime `ENV`, `deploy/configmap.yaml` and `deploy/deployment.yaml`: what the pod runs with. */
export async function deployMemory(): Promise<DeployMemory> {
  const config = (await firstDocument('configmap.yaml')) as { data: Record<string, string> };
  const deployment = (await firstDocument('deployment.yaml')) as {
    spec: { template: { spec: { containers: { env?: { name: string; value: string }[]; resources: { limits: { memory: string } } }[] } } };
  };
  const container = deployment.spec.template.spec.containers[0]!;
  const limit = /^(\d+)Mi$/.exec(container.resources.limits.memory);
  if (!limit) throw new Error(`deploy/deployment.yaml: memory limit ${container.resources.limits.memory} is not in Mi`);
  const env: Record<string, string> = {};
  const image = readImageRuntime().env;
  for (const name of MEMORY_ENV) if (image[name] !== undefined) env[name] = image[name];
  for (const name of MEMORY_SETTINGS) if (config.data[name] !== undefined) env[name] = config.data[name]!;
  for (const { name, value } of container.env ?? []) if (name.startsWith('MALLOC_')) env[name] = value;
  return { limitBytes: Number(limit[1]) * 1024 * 1024, env };
}
