// Mocha adds a configuration's `spec` to the files named on the command line, so that
// `npx mocha test/x.test.ts` would run the whole suite. The suite's folders apply only when the
// command line names no test file or folder: `npx mocha` runs everything, `npx mocha
// test/unit/config.test.ts` only that file.
const named = process.argv.slice(2).some((arg) => !arg.startsWith('-') && /(^|\/)test(\/|$)|\.test\.ts$/.test(arg));

module.exports = {
  'node-option': ['import=tsx'],
  // What was skipped for want of inputs outside the repository, summed up once at the end.
  require: ['test/support/external.ts'],
  extension: ['ts'],
  ...(named
    ? {}
    : {
        spec: [
          'test/unit/**/*.test.ts',
          'test/contract/**/*.test.ts',
          'test/system/**/*.test.ts',
          'test/model/**/*.test.ts',
          'test/integrations/**/*.test.ts',
          'test/tools/**/*.test.ts',
          'test/scripts/**/*.test.ts',
        ],
      }),
  timeout: 30000,
  exit: true,
};
