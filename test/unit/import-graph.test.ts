/**
 * No import cycles, type-only imports included. ESLint's import-x/no-cycle (`make lint`) catches
 * the cycles that run; this catches the design ones too (a module and its dependants sharing a
 * type both ways), which no-cycle ignores because the compiler erases them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import ts from 'typescript';
import { rootDir } from '../../src/spec.js';

/** The TypeScript modules under `dir`, as paths relative to the root. */
function modules(dir: string): string[] {
  return readdirSync(path.join(rootDir, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f));
}

/** The local modules `file` imports, types included. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(path.join(rootDir, file), 'utf8'), true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.join(path.dirname(file), name.replace(/\.js$/, '.ts')))
    .filter((target) => existsSync(path.join(rootDir, target)));
}

/** Every cycle's modules (Tarjan's strongly connected components of more than one module). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) component.push(w);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import graph', () => {
  it('has no cycles in src/, tools/, scripts/ or test/, type-only imports included', () => {
    const files = ['src', 'tools', 'scripts', 'test'].flatMap(modules);
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    expect(cycles(graph)).to.deep.equal([]);
  });
});
