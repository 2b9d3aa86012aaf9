/**
 * The Open Inference Protocol as published (`CONFORMANCE_DIR`'s oip/, test/support/external.ts): its OpenAPI document's
 * schemas, compiled with Ajv, to check the service's V2 answers against the standard itself, not
 * only against our spec. Where the document has no schema, the prose's objects
 * (`inference_rest.md`) are written here. Tests skip with a message where the folder is absent.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { expect } from 'chai';
import { parse } from 'yaml';
import type { Received } from './contract.js';
import { need } from './external.js';

/** The protocol's OpenAPI document, once a test found it. */
let documentPath: string | undefined;

/** Skips the calling test (or hook), saying so, where the published texts are not at hand. */
export function needConformance(context: Mocha.Context): void {
  documentPath = need(context, 'conformance', 'oip', 'open_inference_rest.yaml');
}

interface OipDocument {
  paths: Record<string, unknown>;
  components: { schemas: Record<string, unknown> };
}

let loaded: { document: OipDocument; ajv: Ajv } | undefined;
function oip(): { document: OipDocument; ajv: Ajv } {
  if (!loaded) {
    if (!documentPath) throw new Error('needConformance() first');
    const document = parse(readFileSync(documentPath, 'utf8')) as OipDocument;
    // OpenAPI 3.0 schemas are JSON Schema draft 4/7 plus keywords such as `x-examples`.
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema(document, 'oip');
    // The prose's objects, where the document gives no schema (inference_rest.md, "Payload Contents").
    ajv.addSchema({ type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } }, 'prose#live_server_response');
    // The prose names the server-ready member `live` (the conformance README notes it).
    ajv.addSchema({ type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } }, 'prose#ready_server_response');
    ajv.addSchema(
      { type: 'object', required: ['name', 'ready'], properties: { name: { type: 'string' }, ready: { type: 'boolean' } } },
      'prose#ready_model_response',
    );
    loaded = { document, ajv };
  }
  return loaded;
}

/** The schema of the document (`oip#/components/schemas/<name>`) or of the prose (`prose#<name>`). */
function schema(ref: string): ValidateFunction {
  const validate = oip().ajv.getSchema(ref);
  if (!validate) throw new Error(`no schema ${ref}`);
  return validate;
}

/** What the standard says an answer of each of our operations is, on success and on error. */
const answers: Record<string, { readonly ok: string; readonly error: string; readonly path: string }> = {
  getServerLive: { ok: 'prose#live_server_response', error: 'oip#/components/schemas/inference_error_response', path: '/v2/health/live' },
  getServerReady: { ok: 'prose#ready_server_response', error: 'oip#/components/schemas/inference_error_response', path: '/v2/health/ready' },
  getServerMetadata: { ok: 'oip#/components/schemas/metadata_server_response', error: 'oip#/components/schemas/metadata_server_error_response', path: '/v2/' },
  getModelVersionMetadata: {
    ok: 'oip#/components/schemas/metadata_model_response',
    error: 'oip#/components/schemas/metadata_model_error_response',
    path: '/v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}',
  },
  getModelVersionReady: { ok: 'prose#ready_model_response', error: 'oip#/components/schemas/inference_error_response', path: '/v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}/ready' },
  inferModelVersion: {
    ok: 'oip#/components/schemas/inference_response',
    error: 'oip#/components/schemas/inference_error_response',
    path: '/v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}/infer',
  },
};
// The document has no path without a version; the prose makes the version optional: same answers.
answers.getModelMetadata = answers.getModelVersionMetadata!;
answers.getModelReady = answers.getModelVersionReady!;
answers.inferModel = answers.inferModelVersion!;

/**
 * Asserts that `res`, an answer of `operationId`, is what the published standard describes: the
 * operation's path is in the document (in its `${MODEL_NAME}` notation), a 2xx body validates
 * against the success schema, any other against the error schema, with `error` a string (the
 * document's inference error object does not require it; the prose does).
 *
 * `binaryHeader`: the JSON header of a binary answer. Its binary outputs carry
 * `parameters.binary_data_size` instead of `data` (Triton's binary tensor data extension), which
 * the document, not knowing the extension, requires on every output: they are checked with
 * `data` set to `[]`, and everything else as it is.
 */
export function expectMatchesStandard(operationId: string, res: Received, binaryHeader?: unknown): void {
  const answer = answers[operationId];
  expect(answer, `the standard's answers of ${operationId}`).to.not.equal(undefined);
  expect(oip().document.paths, `the document defines ${answer!.path}`).to.have.property(answer!.path);
  const ok = res.status >= 200 && res.status < 300;
  let body = binaryHeader ?? res.body;
  if (binaryHeader !== undefined) {
    const header = structuredClone(binaryHeader) as { outputs: { data?: unknown; parameters?: { binary_data_size?: number } }[] };
    for (const output of header.outputs) {
      if (output.parameters?.binary_data_size !== undefined && output.data === undefined) output.data = [];
    }
    body = header;
  }
  const validate = schema(ok ? answer!.ok : answer!.error);
  expect(validate(body), `${operationId} ${res.status} against the standard (${ok ? answer!.ok : answer!.error}): ${JSON.stringify(validate.errors)}`).to.equal(true);
  if (!ok) expect((body as { error?: unknown }).error, 'the error message').to.be.a('string').with.length.greaterThan(0);
}
