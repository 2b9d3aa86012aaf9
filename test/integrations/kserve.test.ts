/**
 * `deploy/kserve/`, validated offline: each object against the `openAPIV3Schema` of KServe's own
 * CustomResourceDefinitions (`CONFORMANCE_DIR`'s kserve/, skipped with a message where absent),
 * with unknown fields refused as `kubectl apply --validate=strict` refuses them (every object
 * schema that lists its properties is closed), and its metadata against Kubernetes' ObjectMeta;
 * then against the service: V2, probes on the public V2 health routes, settings src/config/config.ts
 * knows, the runtime and model format the InferenceService names, memory within the limit.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';
import { envSchema } from '../../src/config/config.js';
import { LIVENESS_SERVICE } from '../../src/frontends/grpc/health.js';
import { readSpec, rootDir } from '../../src/spec.js';
import { PROCESS_PEAK_MIB } from '../support/deploy.js';
import { need } from '../support/external.js';

const kserveDir = path.join(rootDir, 'deploy', 'kserve');
const crdFiles = { ServingRuntime: 'serving.kserve.io_servingruntimes.yaml', InferenceService: 'serving.kserve.io_inferenceservices.yaml' } as const;
/** The margin the limit keeps above the worst case (as deploy.test.ts's). */
const MARGIN_MIB = 64;

type Manifest = { apiVersion: string; kind: keyof typeof crdFiles; metadata: Record<string, unknown>; spec: Record<string, unknown> };
const manifests: Manifest[] = readdirSync(kserveDir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(path.join(kserveDir, f), 'utf8')).map((d) => d.toJS() as Manifest));
const find = <T>(kind: Manifest['kind']): T => manifests.find((m) => m.kind === kind) as T;
/** The gRPC variant, `deploy/kserve/grpc/`. */
const grpcManifests: Manifest[] = readdirSync(path.join(kserveDir, 'grpc'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(path.join(kserveDir, 'grpc', f), 'utf8')).map((d) => d.toJS() as Manifest));

type Schema = { type?: string; properties?: Record<string, Schema>; additionalProperties?: unknown; items?: Schema; [k: string]: unknown };

/** The CRD's schema with every object that lists its properties closed to others. */
function closed(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, closed(v)]));
    if (schema.additionalProperties === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  }
  if (schema.items) out.items = closed(schema.items);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.additionalProperties = closed(schema.additionalProperties as Schema);
  for (const key of ['anyOf', 'allOf', 'oneOf'] as const) {
    if (Array.isArray(schema[key])) out[key] = (schema[key] as Schema[]).map(closed);
  }
  return out;
}

interface Crd {
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[] };
}

/** The CRDs' folder, once found (the suite is skipped without it). */
let crdDir = '';

const ajv = new Ajv({ strict: false, allErrors: true });
const validators = new Map<string, { apiVersions: string[]; validate: ValidateFunction }>();
function crdValidator(kind: Manifest['kind']): { apiVersions: string[]; validate: ValidateFunction } {
  let found = validators.get(kind);
  if (!found) {
    const crd = parse(readFileSync(path.join(crdDir, crdFiles[kind]), 'utf8')) as Crd;
    const version = crd.spec.versions.find((v) => v.served)!;
    const schema = closed(version.schema.openAPIV3Schema);
    // The CRD types metadata as any object; Kubernetes validates it as ObjectMeta (below).
    schema.properties!.metadata = {};
    found = { apiVersions: crd.spec.versions.filter((v) => v.served).map((v) => `${crd.spec.group}/${v.name}`), validate: ajv.compile(schema) };
    validators.set(kind, found);
  }
  return found;
}

async function objectMetaValidator(): Promise<(data: unknown) => boolean> {
  const dir = path.dirname(createRequire(import.meta.url).resolve('@kubernetes-models/apimachinery/package.json'));
  const mod = (await import(pathToFileURL(path.join(dir, '_schemas', 'IoK8sApimachineryPkgApisMetaV1ObjectMeta.mjs')).href)) as { validate: (d: unknown) => boolean };
  return mod.validate;
}

const errorsOf = (validate: ValidateFunction): string[] => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);

describe('deploy/kserve/ (KServe manifests)', () => {
  before(function () {
    crdDir = need(this, 'conformance', 'kserve');
  });

  it('holds a ServingRuntime and an InferenceService', () => {
    expect(manifests.map((m) => m.kind).sort()).to.deep.equal(['InferenceService', 'ServingRuntime']);
  });

  for (const manifest of manifests) {
    it(`${manifest.kind} ${String(manifest.metadata.name)} is valid against KServe's CRD, with no unknown field`, async () => {
      const { apiVersions, validate } = crdValidator(manifest.kind);
      expect(apiVersions, 'a served apiVersion').to.include(manifest.apiVersion);
      expect(validate(manifest), errorsOf(validate).join('\n')).to.equal(true);
      expect((await objectMetaValidator())(manifest.metadata), 'metadata is an ObjectMeta').to.equal(true);
    });
  }

  it('the strict check refuses a misspelt field and a wrong type', () => {
    const isvc = structuredClone(find<Manifest & { spec: { predictor: { model: Record<string, unknown> } } }>('InferenceService'));
    isvc.spec.predictor.model.protocolVersions = 'v2';
    isvc.spec.predictor.model.env = 'DEFAULT_MODEL=catdog';
    const { validate } = crdValidator('InferenceService');
    expect(validate(isvc)).to.equal(false);
    const errors = errorsOf(validate).join('\n');
    expect(errors).to.contain('must NOT have additional properties').and.contain('protocolVersions');
    expect(errors).to.contain('/spec/predictor/model/env must be array');
  });

  describe('agrees with the service', () => {
    type Env = { name: string; value: string }[];
    type Probe = { httpGet: { path: string; port: number } };
    const runtime = find<{ metadata: { name: string }; spec: { supportedModelFormats: { name: string }[]; protocolVersions: string[]; containers: { env: Env; ports: { containerPort: number }[]; resources: { limits: { memory: string } } }[] } }>('ServingRuntime');
    const isvc = find<{ metadata: { name: string }; spec: { predictor: { model: { modelFormat: { name: string }; runtime: string; protocolVersion: string; env: Env; livenessProbe: Probe; readinessProbe: Probe } } } }>('InferenceService');
    const model = isvc.spec.predictor.model;
    const container = runtime.spec.containers[0]!;
    const env = Object.fromEntries([...container.env, ...model.env].map((e) => [e.name, e.value]));

    it('speaks V2, on the runtime and model format it names', () => {
      expect(model.protocolVersion).to.equal('v2');
      expect(runtime.spec.protocolVersions).to.deep.equal(['v2']);
      expect(model.runtime).to.equal(runtime.metadata.name);
      expect(runtime.spec.supportedModelFormats.map((f) => f.name)).to.include(model.modelFormat.name);
    });

    it('probes the public V2 health routes of the spec on the port the service listens on', () => {
      const paths = readSpec().paths as Record<string, { get?: { security?: unknown[] } }>;
      expect(model.livenessProbe.httpGet.path).to.equal('/v2/health/live');
      expect(model.readinessProbe.httpGet.path).to.equal('/v2/health/ready');
      for (const probe of [model.livenessProbe, model.readinessProbe]) {
        expect(paths[probe.httpGet.path]?.get?.security, probe.httpGet.path).to.deep.equal([]);
        expect(probe.httpGet.port).to.equal(Number(env.PORT));
      }
      expect(container.ports.map((p) => p.containerPort)).to.include(Number(env.PORT));
    });

    it('sets only settings src/config/config.ts knows, the OAuth2 ones it requires, and DEFAULT_MODEL as the InferenceService\'s name', () => {
      const known = [...Object.keys(envSchema.properties), 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_'];
      for (const name of Object.keys(env)) expect(known, `${name} is a setting`).to.include(name);
      expect(env).to.include.keys('OAUTH2_ISSUER', 'OAUTH2_AUDIENCE');
      expect(env).to.not.have.property('AUTH_DISABLED');
      expect(env.DEFAULT_MODEL).to.equal(isvc.metadata.name);
    });

    it('limits memory above the worst case its settings allow: process + uploads + decode budget + V2 bodies', () => {
      const setting = (name: keyof typeof envSchema.properties): number =>
        Number(env[name] ?? (envSchema.properties[name] as { default?: number }).default);
      const worstMiB = PROCESS_PEAK_MIB + (setting('MAX_CONNECTIONS') * setting('MAX_UPLOAD_BYTES')) / 2 ** 20
        + setting('DECODE_MEMORY_BUDGET_MIB') + setting('INFER_BODY_MEMORY_MIB');
      const limitMiB = Number(/^(\d+)Mi$/.exec(container.resources.limits.memory)?.[1]);
      expect(limitMiB, `limit ≥ ${worstMiB} MiB + margin`).to.be.at.least(worstMiB + MARGIN_MIB);
      expect(setting('INFER_BODY_MEMORY_MIB') * 2 ** 20, 'room for one binary body of the largest size').to.be.at.least(2 * setting('MAX_INFER_BODY_BYTES'));
    });
  });
  describe('the gRPC variant (grpc/)', () => {
    type Env = { name: string; value: string }[];
    type GrpcProbe = { grpc: { port: number; service?: string } };
    const runtime = grpcManifests.find((m) => m.kind === 'ServingRuntime') as unknown as { metadata: { name: string }; spec: { protocolVersions: string[]; supportedModelFormats: { name: string }[]; containers: { env: Env; ports: { name?: string; containerPort: number }[]; resources: { limits: { memory: string } } }[] } };
    const isvc = grpcManifests.find((m) => m.kind === 'InferenceService') as unknown as { metadata: { name: string }; spec: { predictor: { model: { modelFormat: { name: string }; runtime: string; protocolVersion: string; env: Env; livenessProbe: GrpcProbe; readinessProbe: GrpcProbe } } } };
    const model = isvc.spec.predictor.model;
    const container = runtime.spec.containers[0]!;
    const env = Object.fromEntries([...container.env, ...model.env].map((e) => [e.name, e.value]));

    it('holds a ServingRuntime and an InferenceService, each valid against KServe\'s CRD with no unknown field', async () => {
      expect(grpcManifests.map((m) => m.kind).sort()).to.deep.equal(['InferenceService', 'ServingRuntime']);
      for (const manifest of grpcManifests) {
        const { apiVersions, validate } = crdValidator(manifest.kind);
        expect(apiVersions, 'a served apiVersion').to.include(manifest.apiVersion);
        expect(validate(manifest), errorsOf(validate).join('\n')).to.equal(true);
        expect((await objectMetaValidator())(manifest.metadata), 'metadata is an ObjectMeta').to.equal(true);
      }
    });

    it('speaks grpc-v2 on one port named h2c, the service\'s GRPC_PORT, distinct from PORT', () => {
      expect(model.protocolVersion).to.equal('grpc-v2');
      expect(runtime.spec.protocolVersions).to.deep.equal(['grpc-v2']);
      expect(model.runtime).to.equal(runtime.metadata.name);
      expect(runtime.spec.supportedModelFormats.map((f) => f.name)).to.include(model.modelFormat.name);
      expect(container.ports).to.deep.equal([{ name: 'h2c', containerPort: Number(env.GRPC_PORT), protocol: 'TCP' }]);
      expect(env.GRPC_PORT).to.not.equal(env.PORT);
    });

    it('probes grpc.health.v1 on the gRPC port: liveness the service "liveness", readiness the server ("")', () => {
      expect(model.livenessProbe.grpc).to.deep.equal({ port: Number(env.GRPC_PORT), service: LIVENESS_SERVICE });
      expect(model.readinessProbe.grpc).to.deep.equal({ port: Number(env.GRPC_PORT) });
    });

    it('sets only settings src/config/config.ts knows, the OAuth2 ones, and DEFAULT_MODEL as the InferenceService\'s name', () => {
      const known = [...Object.keys(envSchema.properties), 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_'];
      for (const name of Object.keys(env)) expect(known, `${name} is a setting`).to.include(name);
      expect(env).to.include.keys('OAUTH2_ISSUER', 'OAUTH2_AUDIENCE');
      expect(env).to.not.have.property('AUTH_DISABLED');
      expect(env.DEFAULT_MODEL).to.equal(isvc.metadata.name);
    });

    it('limits memory above the worst case of its settings, as the REST runtime', () => {
      const setting = (name: keyof typeof envSchema.properties): number =>
        Number(env[name] ?? (envSchema.properties[name] as { default?: number }).default);
      const worstMiB = PROCESS_PEAK_MIB + (setting('MAX_CONNECTIONS') * setting('MAX_UPLOAD_BYTES')) / 2 ** 20
        + setting('DECODE_MEMORY_BUDGET_MIB') + setting('INFER_BODY_MEMORY_MIB');
      const limitMiB = Number(/^(\d+)Mi$/.exec(container.resources.limits.memory)?.[1]);
      expect(limitMiB, `limit ≥ ${worstMiB} MiB + margin`).to.be.at.least(worstMiB + MARGIN_MIB);
    });
  });
});
