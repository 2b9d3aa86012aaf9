/**
 * Prints the README's configuration table from the environment schema in src/config.ts, so that
 * the two cannot drift: `tsx scripts/config-table.ts`. test/unit/config.test.ts checks the README
 * lists every variable.
 */
import { envSchema } from '../src/config.js';

interface Property {
  readonly default?: string | number | boolean;
  readonly description?: string;
}

const rows = Object.entries(envSchema.properties as Record<string, Property>).map(([name, p]) => {
  const fallback = p.default === undefined ? '–' : `\`${String(p.default)}\``;
  return `| \`${name}\` | ${fallback} | ${(p.description ?? '').replace(/\|/g, '\\|')} |`;
});
console.log(['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n'));
