// ESLint (flat config): typescript-eslint's type-aware rules and import-x's cycle and layering
// rules over src/, tools/, scripts/ and test/. `make lint` runs it with --max-warnings 0.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** The protocol front-ends, each a folder of src/frontends/. */
const frontends = ['course', 'v2', 'grpc', 'operations', 'captures', 'label-studio'];

/** Zones forbidding `target` to import any of `below` (folders or files of src/). */
function layer(target, below, message) {
  return below.map((from) => ({ target, from: `./src/${from}`, message }));
}

export default defineConfig(
  globalIgnores(['generated/', 'dist/', '.bench/', 'node_modules/', 'bruno/', 'deploy/', 'docs/']),
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      // A runtime import cycle is a module that can run before what it imports is initialised.
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': 'error',
      // Named exports only (STYLE.md).
      'import-x/no-default-export': 'error',
      // `import type` for types (STYLE.md; verbatimModuleSyntax needs it to erase them).
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // Names starting with `_` are deliberately unused (a rest sibling dropped, a placeholder).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // No enums (STYLE.md).
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use a union of literals, not an enum.' }],
      // Off: an `async` function without `await` is used on purpose where a Promise-typed API
      // (an interface method, a task for the admission gate, a token provider) is implemented:
      // it turns a throw into a rejection. Forgotten awaits are caught by no-floating-promises
      // and no-misused-promises, which stay on.
      '@typescript-eslint/require-await': 'off',
      // Re-rejecting what a `catch` caught, as it is, is fine; new rejections must be Errors.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // The web page (its own tsconfig, the DOM's types): it runs in the browser and takes from
    // the service's sources only what is pure (src/model/explain/heat-colours.ts).
    files: ['web/**/*.ts'],
    rules: {
      'no-console': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './web', from: './tools', message: 'The page does not load the offline tools.' },
            { target: './web', from: './scripts', message: 'The page does not load the make-target scripts.' },
            { target: './web', from: './test', message: 'The page does not load test code.' },
          ],
        },
      ],
    },
  },
  {
    // Declarations of untyped packages describe their shape, default export included.
    files: ['types/**/*.d.ts'],
    rules: { 'import-x/no-default-export': 'off' },
  },
  {
    // The service and the CLI: what dist/ holds. They never reach into the offline tools, the
    // scripts or the tests, and log through pino. Imports point down the layers (README,
    // "Layout"): the composition (app.ts) above the protocol front-ends; the front-ends above the
    // inference core, the Open Inference Protocol's data model and the HTTP plumbing; the core
    // above the model repository; the repository above the model. A front-end never imports
    // another; the model never imports the configuration (its options come in as arguments).
    files: ['src/**/*.ts'],
    rules: {
      'no-console': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './src', from: './tools', message: 'The server does not load the offline tools (tools/ is not in dist/).' },
            { target: './src', from: './scripts', message: 'The server does not load the make-target scripts.' },
            { target: './src', from: './test', message: 'The server does not load test code.' },
            { target: './src', from: './src/main.ts', message: 'main.ts is the process entry point: nothing imports it.' },
            ...layer('./src/model', ['config', 'auth', 'lifecycle', 'repository', 'inference', 'oip', 'frontends', 'http', 'client', 'metrics.ts', 'app.ts'],
              'model/ is the bottom layer: it imports no other part of the service, not even the configuration (options come in as arguments).'),
            ...layer('./src/repository', ['config', 'auth', 'lifecycle', 'inference', 'oip', 'frontends', 'http', 'client', 'app.ts'],
              'repository/ sits on model/ only: the core leases versions from it, never the other way round.'),
            ...layer('./src/inference', ['config', 'auth', 'lifecycle', 'oip', 'frontends', 'http', 'client', 'app.ts'],
              'inference/ is protocol-neutral: it knows the repository and the model, no front-end, no HTTP.'),
            ...layer('./src/oip', ['config', 'auth', 'lifecycle', 'frontends', 'http', 'client', 'app.ts'],
              "oip/ is the Open Inference Protocol's data model, shared by its front-ends: it knows no transport."),
            ...layer('./src/http', ['config', 'inference', 'oip', 'frontends', 'client', 'app.ts'],
              'http/ is the server and its plumbing: the front-ends bring their handlers, it imports none of them.'),
            ...layer('./src/auth', ['config', 'lifecycle', 'repository', 'inference', 'oip', 'frontends', 'http', 'model', 'client', 'app.ts'],
              'auth/ verifies tokens for any front-end: it imports no other layer.'),
            ...layer('./src/lifecycle', ['config', 'inference', 'oip', 'frontends', 'http', 'client', 'app.ts'],
              "lifecycle/ is the process's state (readiness, shutdown): it imports no front-end and no HTTP."),
            ...layer('./src/config', ['frontends', 'client', 'app.ts'],
              'config/ shapes the environment into the options the modules take: it imports their types, never a front-end.'),
            // The capture store sits beside the front-ends: the core hands it answers through the
            // port it declares (src/inference/capture.ts), and only the composition wires the two.
            ...layer('./src/inference', ['capture'],
              'inference/ hands answers to the CaptureSink it declares; the composition (app.ts) wires src/capture/ to it.'),
            ...['model', 'repository', 'oip', 'http', 'auth', 'lifecycle'].flatMap((below) => layer(`./src/${below}`, ['capture'],
              'capture/ sits above the core, beside the front-ends: the layers below it do not import it.')),
            ...layer('./src/capture', ['config', 'auth', 'lifecycle', 'repository', 'oip', 'frontends', 'http', 'client', 'app.ts'],
              'capture/ stores answers and feedback: it knows the core\'s port (inference/capture.ts), no front-end, no HTTP, no configuration.'),
            ...frontends.flatMap((name) =>
              layer(`./src/frontends/${name}`, [...frontends.filter((other) => other !== name).map((other) => `frontends/${other}`), 'config', 'client', 'app.ts'],
                'A front-end decodes its protocol, calls the inference core and encodes the answer: it never imports another front-end, nor the configuration (the composition passes its options).')),
          ],
        },
      ],
    },
  },
  {
    // Offline tools are reused by scripts and tests, never the other way round.
    files: ['tools/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './tools', from: './scripts', message: 'tools/ does not depend on the make-target scripts.' },
            { target: './tools', from: './test', message: 'tools/ does not depend on test code.' },
          ],
        },
      ],
    },
  },
);
