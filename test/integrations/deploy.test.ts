/**
 * The Kubernetes manifests of `deploy/`, validated offline: each object against the Kubernetes
 * 1.27 JSON schemas that kubernetes-models bundles, with unknown fields refused as
 * `kubeconform -strict` refuses them; then against the service itself (probe paths in the spec,
 * settings known to src/config/config.ts, shutdown timing, names that refer to each other).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { envSchema } from '../../src/config/config.js';
import { readSpec, rootDir } from '../../src/spec.js';
import { PROCESS_PEAK_MIB } from '../support/deploy.js';

const deployDir = path.join(rootDir, 'deploy');
/** Environment variables the runtime reads, not the service (glibc's malloc, inert under the image's jemalloc). */
const runtimeVariables = ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_'];
/** What the allocator keeps for reuse after hot swaps (`make bench-swap`: jemalloc 65 MiB; glibc's malloc with MALLOC_MMAP_THRESHOLD_ at 32 MiB 92–104, rounded up). */
const SWAP_RETAINED_MIB = 96;
/** What the limit keeps above the worst case: fragmentation, estimates' error. */
const MARGIN_MIB = 64;
const schemasDir = path.join(path.dirname(createRequire(import.meta.url).resolve('kubernetes-models/package.json')), '_schemas');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown };
type Validate = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };

/** The schema of each kind `deploy/` may hold. */
const schemaOf: Record<string, string> = {
  'v1/ConfigMap': 'IoK8sApiCoreV1ConfigMap',
  'v1/Secret': 'IoK8sApiCoreV1Secret',
  'v1/Service': 'IoK8sApiCoreV1Service',
  'apps/v1/Deployment': 'IoK8sApiAppsV1Deployment',
  'autoscaling/v2/HorizontalPodAutoscaler': 'IoK8sApiAutoscalingV2HorizontalPodAutoscaler',
  'policy/v1/PodDisruptionBudget': 'IoK8sApiPolicyV1PodDisruptionBudget',
};

async function validator(manifest: Manifest): Promise<Validate> {
  const name = schemaOf[`${manifest.apiVersion}/${manifest.kind}`];
  expect(name, `a schema for ${manifest.apiVersion} ${manifest.kind}`).to.be.a('string');
  const mod = (await import(pathToFileURL(path.join(schemasDir, `${name}.mjs`)).href)) as { validate: Validate };
  return mod.validate;
}

/**
 * Validates `value`, and lists the fields the schema does not define. The compiled validators
 * read exactly the properties their schema defines (and every key of a map), so a field that
 * was never read is unknown to Kubernetes: a typo that the API server would drop or refuse.
 */
function validateStrict(validate: Validate, value: unknown): { errors: string[]; unknown: string[] } {
  const visited: { at: string; object: object; read: Set<string> }[] = [];
  const track = (v: unknown, at: string): unknown => {
    if (v === null || typeof v !== 'object') return v;
    const read = new Set<string>();
    visited.push({ at, object: v, read });
    const copy = Array.isArray(v)
      ? v.map((item, i) => track(item, `${at}/${i}`))
      : Object.fromEntries(Object.entries(v).map(([k, item]) => [k, track(item, `${at}/${k}`)]));
    return new Proxy(copy, {
      get(target, key, receiver) {
        if (typeof key === 'string') read.add(key);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  };
  const ok = validate(track(value, ''));
  const errors = ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  const unknown = visited
    .filter(({ object }) => !Array.isArray(object))
    .flatMap(({ at, object, read }) => Object.keys(object).filter((k) => !read.has(k)).map((k) => `${at}/${k}`));
  return { errors, unknown };
}

const files = readdirSync(deployDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const manifests: Manifest[] = files.flatMap((f) =>
  parseAllDocuments(readFileSync(path.join(deployDir, f), 'utf8')).map((d) => d.toJS() as Manifest),
);
const find = <T = Manifest>(kind: string): T => manifests.find((m) => m.kind === kind) as T;

describe('deploy/ (Kubernetes manifests)', () => {
  for (const manifest of manifests) {
    it(`${manifest.kind} ${manifest.metadata.name} is valid against the Kubernetes 1.27 schema, with no unknown field`, async () => {
      const { errors, unknown } = validateStrict(await validator(manifest), manifest);
      expect(errors, 'schema errors').to.deep.equal([]);
      expect(unknown, 'fields Kubernetes does not define').to.deep.equal([]);
    });
  }

  it('the strict check refuses a misspelt field and a wrong type', async () => {
    type Deployment = Manifest & { spec: { replicas: unknown; template: { spec: Record<string, unknown> } } };
    const deployment: Deployment = structuredClone(find<Deployment>('Deployment'));
    deployment.spec.replicas = 'two';
    deployment.spec.template.spec.terminationGracePeriod = 30;
    const { errors, unknown } = validateStrict(await validator(deployment), deployment);
    expect(errors.join()).to.contain('/spec/replicas');
    expect(unknown).to.deep.equal(['/spec/template/spec/terminationGracePeriod']);
  });

  it('kustomization.yaml lists every manifest', () => {
    const kustomization = parseAllDocuments(readFileSync(path.join(deployDir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    expect([...kustomization.resources].sort()).to.deep.equal([...files].sort());
  });

  describe('agrees with the service', () => {
    const deployment = find<DeploymentShape>('Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0]!;
    const config = find<{ data: Record<string, string> }>('ConfigMap');

    it('probes public operations of the spec on the container port', () => {
      const paths = readSpec().paths as Record<string, { get?: { security?: unknown[] } }>;
      for (const [name, probe] of Object.entries({ liveness: container.livenessProbe, readiness: container.readinessProbe, startup: container.startupProbe })) {
        expect(paths[probe.httpGet.path]?.get?.security, `${name} probe ${probe.httpGet.path}: a public GET of the spec`).to.deep.equal([]);
        expect(container.ports.map((p) => p.name), `${name} probe port`).to.include(probe.httpGet.port);
      }
      expect(container.readinessProbe.httpGet.path).to.equal('/health/ready');
    });

    it('sets only settings that src/config/config.ts knows (and the C library reads), and the OAuth2 ones it requires', () => {
      const known = [...Object.keys(envSchema.properties), ...runtimeVariables];
      const set = [...Object.keys(config.data), ...(container.env ?? []).map((e) => e.name)];
      for (const name of set) expect(known, `${name} is a setting`).to.include(name);
      expect(set).to.include.members(['OAUTH2_ISSUER', 'OAUTH2_AUDIENCE']);
      expect(set).to.not.include('AUTH_DISABLED');
      expect(container.envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name)).to.include(find('ConfigMap').metadata.name);
    });

    it('gives the service time to drain: preStop pause + SHUTDOWN_GRACE_MS < terminationGracePeriodSeconds', () => {
      const graceMs = Number(config.data.SHUTDOWN_GRACE_MS ?? envSchema.properties.SHUTDOWN_GRACE_MS.default);
      const pauseS = Number(container.lifecycle?.preStop?.exec?.command?.at(-1) ?? 0);
      expect(pauseS + graceMs / 1000).to.be.below(pod.terminationGracePeriodSeconds);
    });

    it('bounds glibc malloc arenas (MALLOC_ARENA_MAX) and mmaps only blocks of 32 MiB and more (MALLOC_MMAP_THRESHOLD_: 128 KiB cost about a sixth of the throughput), should the image\'s jemalloc preload be cleared', () => {
      expect((container.env ?? []).find((e) => e.name === 'MALLOC_ARENA_MAX')?.value).to.equal('2');
      expect((container.env ?? []).find((e) => e.name === 'MALLOC_MMAP_THRESHOLD_')?.value).to.equal('33554432');
    });

    it('requests memory and CPU, and limits memory above the worst case its settings allow: process + uploads held + decode budget + V2 bodies', () => {
      const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN);
      const setting = (name: keyof typeof envSchema.properties) =>
        Number(config.data[name] ?? (envSchema.properties[name] as { default?: number }).default);
      const uploadsMiB = (setting('MAX_CONNECTIONS') * setting('MAX_UPLOAD_BYTES')) / 2 ** 20;
      // Versions change at run time unless MODEL_CONTROL=none: the heap keeps a replaced version's memory.
      const swapsMiB = (config.data.MODEL_CONTROL ?? envSchema.properties.MODEL_CONTROL.default) === 'none' ? 0 : SWAP_RETAINED_MIB;
      const worstMiB = PROCESS_PEAK_MIB + uploadsMiB + setting('DECODE_MEMORY_BUDGET_MIB') + setting('INFER_BODY_MEMORY_MIB') + swapsMiB;
      expect(setting('DECODE_MEMORY_BUDGET_MIB'), 'a decode budget').to.be.above(0);
      expect(setting('INFER_BODY_MEMORY_MIB'), 'a V2 body budget').to.be.above(0);
      expect(mib(container.resources.limits.memory), `limit ≥ ${worstMiB} MiB + margin`).to.be.at.least(worstMiB + MARGIN_MIB);
      expect(mib(container.resources.requests.memory)).to.be.at.least(PROCESS_PEAK_MIB);
      expect(container.resources.requests.cpu, 'the HPA scales on CPU utilisation of the request').to.be.a('string');
    });

    it('Service, HPA and PodDisruptionBudget point at the Deployment and its pods', () => {
      const labels = deployment.spec.template.metadata.labels;
      const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
      const service = find<{ spec: { selector: Record<string, string>; ports: { targetPort: string }[] } }>('Service');
      expect(selects(service.spec.selector)).to.equal(true);
      expect(container.ports.map((p) => p.name)).to.include(service.spec.ports[0]!.targetPort);
      expect(selects(deployment.spec.selector.matchLabels)).to.equal(true);
      const hpa = find<{ spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number } }>('HorizontalPodAutoscaler');
      expect(hpa.spec.scaleTargetRef).to.include({ kind: 'Deployment', name: deployment.metadata.name });
      const pdb = find<{ spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget');
      expect(selects(pdb.spec.selector.matchLabels)).to.equal(true);
      expect(pdb.spec.minAvailable).to.be.below(hpa.spec.minReplicas);
    });
  });
});

interface Probe {
  httpGet: { path: string; port: string };
}
interface DeploymentShape {
  metadata: { name: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        containers: {
          ports: { name: string }[];
          env?: { name: string; value?: string }[];
          envFrom: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
          resources: { requests: { memory: string; cpu: string }; limits: { memory: string } };
          livenessProbe: Probe;
          readinessProbe: Probe;
          startupProbe: Probe;
          lifecycle?: { preStop?: { exec?: { command?: string[] } } };
        }[];
      };
    };
  };
}
