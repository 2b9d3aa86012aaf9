#!/usr/bin/env node
/**
 * Executable of the `predict` command (package `bin`); the command itself is in `predict.ts`.
 *
 *   node dist/src/client/cli.js cat.png --url http://localhost:8080 --token "$TOKEN"
 */
import { predict } from './predict.js';

process.exitCode = await predict(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
