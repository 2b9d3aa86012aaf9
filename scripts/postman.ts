/**
 * `make postman`: the Postman collection and environment of the service, converted from the spec
 * by openapi-to-postmanv2 (folders by tag, examples from the spec), then completed with what a
 * conversion cannot know:
 *
 * - authorisation: secured requests send `Authorization: Bearer {{token}}`; a collection
 *   pre-request script obtains `{{token}}` with the client-credentials grant from `{{tokenUrl}}`
 *   (`{{clientId}}` / `{{clientSecret}}`) when it is empty, so the collection runs against
 *   `make dev` as imported;
 * - the image: `POST /upload` sends the file `cat.png` from newman's working directory (in the
 *   Postman app, pick a file in the Body tab);
 * - tests: each request checks the status the spec promises; `/health` its body; `/upload` that
 *   the prediction is one of the labels and, when `{{expectedPrediction}}` is set, that one (V2
 *   inference: its `label` output); the optional `Inference-Header-Content-Length` is disabled;
 *   one more request, "Classify an image without a token", expects 401 `token-missing`;
 * - the model repository's management requests (`/v2/repository/...`) send `{{manageToken}}`,
 *   obtained the same way from `{{manageClientId}}` with the scope `manage::models`; their tests
 *   accept the protocol's 404 and 409 (no version 2; a server whose models are fixed);
 * - the optional `model` and `version` query parameters of `/upload` and `/explain` are disabled,
 *   and so is the optional `X-Capture` header;
 * - the captures' requests (`/feedback`, `/captures...`) send `{{captureToken}}`, obtained from
 *   `{{captureClientId}}` with the scopes `read::captures post::feedback`; their tests accept
 *   404 `capture-not-found` (the spec's example ids name no capture) and 503
 *   `capture-unavailable` (a server that captures nothing).
 *
 * Writes `dist/postman/cat-dog-other.postman_collection.json` and
 * `dist/postman/cat-dog-other.postman_environment.json`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Document } from 'openapi-backend';
import { convertV2 } from 'openapi-to-postmanv2';
import { readSpec, readSpecText, rootDir } from '../src/spec.js';

/** A Postman collection (v2.1), as far as this script touches it. */
export interface PostmanCollection {
  info: { name: string; [k: string]: unknown };
  item: PostmanItem[];
  variable?: { key: string; value: string; [k: string]: unknown }[];
  auth?: unknown;
  event?: PostmanEvent[];
  [k: string]: unknown;
}
export interface PostmanItem {
  name: string;
  item?: PostmanItem[];
  request?: {
    method: string;
    url: { path: string[]; [k: string]: unknown };
    auth?: unknown;
    body?: { mode: string; formdata?: { key: string; type: string; src?: string; [k: string]: unknown }[] };
    header?: { key: string; disabled?: boolean; [k: string]: unknown }[];
    [k: string]: unknown;
  };
  event?: PostmanEvent[];
  [k: string]: unknown;
}
interface PostmanEvent {
  listen: 'test' | 'prerequest';
  script: { type: 'text/javascript'; exec: string[] };
}

/** The environment's variables: `make dev`'s identity provider and API. */
export const environmentDefaults: Readonly<Record<string, string>> = {
  baseUrl: 'http://localhost:8080',
  token: '',
  tokenUrl: 'http://127.0.0.1:9400/token',
  clientId: 'prediction-client',
  clientSecret: 'prediction-client-secret',
  // One token for every request: the upload's scope and the metrics'.
  scope: 'get::prediction get::metrics',
  // The management API's token, from the client allowed `manage::models`.
  manageToken: '',
  manageClientId: 'operator-client',
  manageClientSecret: 'operator-client-secret',
  // The captures' token, from the client allowed `read::captures` and `post::feedback`.
  captureToken: '',
  captureClientId: 'labeller-client',
  captureClientSecret: 'labeller-client-secret',
  expectedPrediction: 'Cat',
};

const script = (listen: PostmanEvent['listen'], lines: string[]): PostmanEvent => ({
  listen,
  script: { type: 'text/javascript', exec: lines },
});

// Runs before every request; pm.sendRequest is Postman's (and newman's) own HTTP client.
const obtainToken = script('prerequest', [
  "if (!pm.variables.get('token') && pm.variables.get('tokenUrl')) {",
  '  pm.sendRequest({',
  "    url: pm.variables.get('tokenUrl'),",
  "    method: 'POST',",
  "    header: { Authorization: 'Basic ' + btoa(pm.variables.get('clientId') + ':' + pm.variables.get('clientSecret')) },",
  "    body: { mode: 'urlencoded', urlencoded: [",
  "      { key: 'grant_type', value: 'client_credentials' },",
  "      { key: 'scope', value: pm.variables.get('scope') },",
  '    ] },',
  '  }, (err, res) => {',
  "    if (err || res.code !== 200) throw new Error('token request to ' + pm.variables.get('tokenUrl') + ' failed: ' + (err || res.code));",
  "    pm.environment.set('token', res.json().access_token);",
  '  });',
  '}',
]);

const bearer = { type: 'bearer', bearer: [{ key: 'token', value: '{{token}}', type: 'string' }] };

// The management requests' own token (scope manage::models), before the request.
const obtainManageToken = script('prerequest', [
  "if (!pm.variables.get('manageToken') && pm.variables.get('tokenUrl')) {",
  '  pm.sendRequest({',
  "    url: pm.variables.get('tokenUrl'),",
  "    method: 'POST',",
  "    header: { Authorization: 'Basic ' + btoa(pm.variables.get('manageClientId') + ':' + pm.variables.get('manageClientSecret')) },",
  "    body: { mode: 'urlencoded', urlencoded: [",
  "      { key: 'grant_type', value: 'client_credentials' },",
  "      { key: 'scope', value: 'manage::models' },",
  '    ] },',
  '  }, (err, res) => {',
  "    if (err || res.code !== 200) throw new Error('token request to ' + pm.variables.get('tokenUrl') + ' failed: ' + (err || res.code));",
  "    pm.environment.set('manageToken', res.json().access_token);",
  '  });',
  '}',
]);

const manageBearer = { type: 'bearer', bearer: [{ key: 'token', value: '{{manageToken}}', type: 'string' }] };

// The captures' requests' own token (scopes read::captures and post::feedback), before the request.
const obtainCaptureToken = script('prerequest', [
  "if (!pm.variables.get('captureToken') && pm.variables.get('tokenUrl')) {",
  '  pm.sendRequest({',
  "    url: pm.variables.get('tokenUrl'),",
  "    method: 'POST',",
  "    header: { Authorization: 'Basic ' + btoa(pm.variables.get('captureClientId') + ':' + pm.variables.get('captureClientSecret')) },",
  "    body: { mode: 'urlencoded', urlencoded: [",
  "      { key: 'grant_type', value: 'client_credentials' },",
  "      { key: 'scope', value: 'read::captures post::feedback' },",
  '    ] },',
  '  }, (err, res) => {',
  "    if (err || res.code !== 200) throw new Error('token request to ' + pm.variables.get('tokenUrl') + ' failed: ' + (err || res.code));",
  "    pm.environment.set('captureToken', res.json().access_token);",
  '  });',
  '}',
]);

const captureBearer = { type: 'bearer', bearer: [{ key: 'token', value: '{{captureToken}}', type: 'string' }] };

/** Whether `METHOD /path` is one of the captures' (`/feedback`, `/captures...`, and the Label Studio backend's, which reads and labels them). */
const isCaptures = (endpoint: string): boolean => /^\/(feedback|captures|label-studio)(\/|$)/.test(endpoint.split(' ')[1]!);

/**
 * What each Label Studio backend request may answer on a server that knows no Label Studio and
 * may capture nothing: the spec's examples name tasks whose images cannot be fetched.
 */
const labelStudioOutcomes: Readonly<Record<string, string>> = {
  'GET /label-studio/health': '{ 200: undefined }',
  'POST /label-studio/setup': '{ 200: undefined }',
  'POST /label-studio/predict': "{ 200: undefined, 422: 'task-image-refused', 502: 'task-image-unavailable' }",
  'POST /label-studio/webhook': "{ 201: undefined, 422: 'task-image-refused', 502: 'task-image-unavailable', 503: 'capture-unavailable' }",
};

/** Whether `METHOD /path` is one of the management API's. */
const isManagement = (endpoint: string): boolean => endpoint.split(' ')[1]!.startsWith('/v2/repository/');

/** `METHOD /path` of a request. */
export const endpointOf = (item: PostmanItem): string => `${item.request!.method} /${item.request!.url.path.join('/')}`;

function testsFor(endpoint: string, secured: boolean): string[] {
  if (endpoint === 'GET /health') {
    return [
      "pm.test('200 {\"status\":\"OK\"}', () => {",
      '  pm.response.to.have.status(200);',
      "  pm.expect(pm.response.json()).to.eql({ status: 'OK' });",
      '});',
    ];
  }
  if (endpoint === 'POST /upload') {
    return [
      "pm.test('200 with a prediction among the labels', () => {",
      '  pm.response.to.have.status(200);',
      '  const body = pm.response.json();',
      '  pm.expect(body.labels).to.include(body.prediction);',
      '  pm.expect(body.values).to.have.lengthOf(body.labels.length);',
      '});',
      "const expected = pm.variables.get('expectedPrediction');",
      "if (expected) pm.test('the prediction is ' + expected, () => pm.expect(pm.response.json().prediction).to.eql(expected));",
    ];
  }
  if (endpoint === 'POST /v2/repository/index') {
    return [
      "pm.test('200 with every version and its state', () => {",
      '  pm.response.to.have.status(200);',
      "  for (const e of pm.response.json()) pm.expect(['LOADING', 'READY', 'UNLOADING', 'UNAVAILABLE']).to.include(e.state);",
      '});',
    ];
  }
  const labelStudio = labelStudioOutcomes[endpoint];
  if (labelStudio) {
    return [
      `pm.test('one of ${labelStudio.replace(/'/g, '')}', () => {`,
      `  const expected = ${labelStudio};`,
      '  pm.expect(Object.keys(expected)).to.include(String(pm.response.code));',
      '  if (expected[pm.response.code]) pm.expect(pm.response.json().code).to.eql(expected[pm.response.code]);',
      '});',
    ];
  }
  if (isCaptures(endpoint)) {
    // The spec's example ids name no capture; a server may capture nothing.
    const ok = endpoint === 'POST /feedback' ? 204 : 200;
    return [
      `pm.test('${ok}, or 404 capture-not-found / 503 capture-unavailable', () => {`,
      `  const expected = { ${ok}: undefined, 404: 'capture-not-found', 503: 'capture-unavailable' };`,
      '  pm.expect(Object.keys(expected)).to.include(String(pm.response.code));',
      `  if (pm.response.code !== ${ok}) pm.expect(pm.response.json().code).to.eql(expected[pm.response.code]);`,
      '});',
    ];
  }
  if (isManagement(endpoint)) {
    // The spec's example asks for version 2, which a server may not have, and a server whose
    // models are fixed loads and unloads nothing: both answer the protocol's error.
    return [
      "pm.test('200, or 404 model-not-found / 409 model-control-disabled with the protocol\\'s error', () => {",
      '  const expected = { 200: undefined, 404: \'model-not-found\', 409: \'model-control-disabled\' };',
      '  pm.expect(Object.keys(expected)).to.include(String(pm.response.code));',
      '  if (pm.response.code !== 200) {',
      '    pm.expect(pm.response.json().code).to.eql(expected[pm.response.code]);',
      "    pm.expect(pm.response.json().error).to.be.a('string');",
      '  }',
      '});',
    ];
  }
  if (endpoint.startsWith('POST /v2/models/') && endpoint.endsWith('/infer')) {
    return [
      "pm.test('200 with the label of each image', () => {",
      '  pm.response.to.have.status(200);',
      "  const label = pm.response.json().outputs.find((o) => o.name === 'label');",
      '  pm.expect(label.shape).to.eql([label.data.length]);',
      '});',
      "const expected = pm.variables.get('expectedPrediction');",
      "if (expected) pm.test('the label is ' + expected, () => pm.expect(pm.response.json().outputs.find((o) => o.name === 'label').data[0]).to.eql(expected));",
    ];
  }
  return [`pm.test('200${secured ? ' with a token' : ''}', () => pm.response.to.have.status(200));`];
}

const unauthorisedTests = [
  "pm.test('401 token-missing with a Bearer challenge', () => {",
  '  pm.response.to.have.status(401);',
  "  pm.expect(pm.response.json().code).to.eql('token-missing');",
  "  pm.expect(pm.response.headers.get('WWW-Authenticate')).to.match(/^Bearer /);",
  '});',
];

/**
 * Whether `METHOD path` of `spec` needs a token: at least one security requirement applies and
 * none is empty (an empty requirement, `{}`, makes the token optional).
 */
export function tokenRequired(spec: Document, method: string, p: string): boolean {
  const op = (spec.paths?.[p] as Record<string, { security?: object[] }> | undefined)?.[method.toLowerCase()];
  const security = op?.security ?? spec.security ?? [];
  return security.length > 0 && security.every((r) => Object.keys(r).length > 0);
}

/** Converts the spec and completes the collection; resolves to the collection and environment. */
export async function buildPostman(): Promise<{ collection: PostmanCollection; environment: Record<string, unknown> }> {
  const converted = await new Promise<PostmanCollection>((resolve, reject) => {
    convertV2({ type: 'string', data: readSpecText() }, { folderStrategy: 'Tags', parametersResolution: 'Example' }, (err, result) => {
      if (err) return reject(err instanceof Error ? err : new Error(`openapi-to-postmanv2: ${err.message}`));
      if (!result?.result || !result.output?.[0]) return reject(new Error(`openapi-to-postmanv2: ${result?.reason}`));
      resolve(result.output[0].data as PostmanCollection);
    });
  });

  const spec = readSpec();
  const isSecured = (endpoint: string): boolean => {
    const [method, p] = endpoint.split(' ') as [string, string];
    // Postman writes path parameters `:name`, OpenAPI `{name}`.
    return tokenRequired(spec, method, p.replace(/:(\w+)/g, '{$1}'));
  };

  const collection = converted;
  collection.variable = [];
  collection.event = [obtainToken];
  for (const folder of collection.item) {
    const added: PostmanItem[] = [];
    for (const item of folder.item ?? [folder]) {
      const endpoint = endpointOf(item);
      const secured = isSecured(endpoint);
      const management = isManagement(endpoint);
      const captures = isCaptures(endpoint);
      item.request!.auth = secured ? (management ? manageBearer : captures ? captureBearer : bearer) : { type: 'noauth' };
      // Optional: the default model's serving version unless a user fills them in.
      for (const param of (item.request!.url.query ?? []) as { key: string; disabled?: boolean }[]) {
        if (param.key === 'model' || param.key === 'version') param.disabled = true;
      }
      for (const field of item.request!.body?.formdata ?? []) if (field.type === 'file') field.src = 'cat.png';
      // The conversion fills the optional Inference-Header-Content-Length with a made-up number;
      // the example body is JSON, which must go without it (kept, disabled, to show it exists).
      for (const header of item.request!.header ?? []) {
        if (['inference-header-content-length', 'x-capture'].includes(header.key.toLowerCase())) header.disabled = true;
      }
      item.event = [...(management ? [obtainManageToken] : []), ...(captures ? [obtainCaptureToken] : []), script('test', testsFor(endpoint, secured))];
      if (secured) {
        added.push({
          ...structuredClone(item),
          name: `${item.name} without a token`,
          // A small body: the service refuses before reading the upload and closes the connection,
          // so a client still sending a large file may see a reset instead of the 401.
          request: {
            ...structuredClone(item.request!),
            auth: { type: 'noauth' },
            body: { mode: 'formdata', formdata: [{ key: 'file', type: 'text', value: 'no token, no classification' }] },
          },
          event: [script('test', unauthorisedTests)],
          response: [],
        });
      }
    }
    folder.item?.push(...added);
  }

  const environment = {
    name: 'cat-dog-other (make dev)',
    values: Object.entries(environmentDefaults).map(([key, value]) => ({
      key,
      value,
      type: key === 'token' || key === 'clientSecret' ? 'secret' : 'default',
      enabled: true,
    })),
    _postman_variable_scope: 'environment',
  };
  return { collection, environment };
}

/** Where `make postman` writes. */
export const postmanDir = path.join(rootDir, 'dist', 'postman');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { collection, environment } = await buildPostman();
  await mkdir(postmanDir, { recursive: true });
  const files = {
    collection: path.join(postmanDir, 'cat-dog-other.postman_collection.json'),
    environment: path.join(postmanDir, 'cat-dog-other.postman_environment.json'),
  };
  await writeFile(files.collection, JSON.stringify(collection, null, 2) + '\n');
  await writeFile(files.environment, JSON.stringify(environment, null, 2) + '\n');
  process.stdout.write(`${path.relative(process.cwd(), files.collection)}\n${path.relative(process.cwd(), files.environment)}\n`);
}
