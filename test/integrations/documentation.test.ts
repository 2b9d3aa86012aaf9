/**
 * The written documentation holds together for a reader of a fresh clone: every relative link of
 * the README, `docs/` and the other READMEs leads to a file of the repository (and to a heading
 * of it when it names one); nothing the product ships points at `../shared`, a folder that exists
 * only beside the team's checkouts; and the README stays short enough to read, depth going to docs/.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { rootDir } from '../../src/spec.js';

/** Files under `dir` (relative to the root), recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(path.join(rootDir, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(rel) : [rel];
  });
}

const markdown = [
  'README.md',
  ...filesUnder('docs').filter((f) => f.endsWith('.md')),
  ...['deploy', 'resources'].flatMap(filesUnder).filter((f) => f.endsWith('README.md')),
];

/** The text outside fenced code blocks, where links are links. */
const prose = (text: string): string => text.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchors of a Markdown file's headings. */
function anchors(file: string): Set<string> {
  const headings = prose(readFileSync(file, 'utf8')).match(/^#{1,6} .+$/gm) ?? [];
  return new Set(
    headings.map((h) =>
      h
        .replace(/^#+ /, '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('documentation', () => {
  it('finds the README, docs/ and the other READMEs', () => {
    expect(markdown).to.include.members(['README.md', path.join('docs', 'README.md'), path.join('deploy', 'README.md')]);
  });

  for (const file of markdown) {
    it(`${file}: every relative link leads to a file of the repository, and to its heading`, () => {
      const broken: string[] = [];
      for (const [, target] of prose(readFileSync(path.join(rootDir, file), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
        const [relative, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = relative ? path.resolve(rootDir, path.dirname(file), relative) : path.join(rootDir, file);
        if (!resolved.startsWith(rootDir + path.sep) || !existsSync(resolved)) broken.push(`${target}: no such file`);
        else if (anchor && !(statSync(resolved).isFile() && anchors(resolved).has(anchor))) broken.push(`${target}: no such heading`);
      }
      expect(broken).to.deep.equal([]);
    });
  }

  it('nothing in src/, openapi/, the README or docs/ points at ../shared', () => {
    const shipped = ['README.md', ...['src', 'openapi', 'docs'].flatMap(filesUnder)].filter((f) => !/\.(png|jpe?g|onnx)$/.test(f));
    const pointing = shipped.filter((f) => readFileSync(path.join(rootDir, f), 'utf8').includes('../shared'));
    expect(pointing).to.deep.equal([]);
  });

  it('the README stays within 24 KiB (depth goes to docs/)', () => {
    expect(statSync(path.join(rootDir, 'README.md')).size).to.be.at.most(24 * 1024);
  });
});
