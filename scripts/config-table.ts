/**
 * The table of every setting, from the environment schema in src/config/config.ts, so that the docs
 * cannot drift from it: `tsx scripts/config-table.ts` prints it, `tsx scripts/config-table.ts
 * --write` rewrites it between the markers of docs/configuration.md.
 * test/unit/config.test.ts checks that the file holds exactly this table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envSchema } from '../src/config/config.js';
import { rootDir } from '../src/spec.js';

interface Property {
  readonly default?: string | number | boolean;
  readonly description?: string;
}

/** Where the table lives. */
export const configurationDoc = path.join(rootDir, 'docs', 'configuration.md');
const begin = '<!-- table:begin (scripts/config-table.ts --write) -->';
const end = '<!-- table:end -->';

/** The Markdown table: one row per variable, in the schema's order. */
export function configurationTable(): string {
  const rows = Object.entries(envSchema.properties as Record<string, Property>).map(([name, p]) => {
    const fallback = p.default === undefined ? '–' : `\`${String(p.default)}\``;
    return `| \`${name}\` | ${fallback} | ${(p.description ?? '').replace(/\|/g, '\\|')} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The table as docs/configuration.md holds it now (between its markers). */
export function documentedTable(): string {
  const text = readFileSync(configurationDoc, 'utf8');
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${configurationDoc}: table markers not found`);
  return text.slice(from + begin.length, to).trim();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const table = configurationTable();
  if (process.argv.includes('--write')) {
    const text = readFileSync(configurationDoc, 'utf8');
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${configurationDoc}: table markers not found`);
    writeFileSync(configurationDoc, `${text.slice(0, from + begin.length)}\n${table}\n${text.slice(to)}`);
  } else {
    console.log(table);
  }
}
