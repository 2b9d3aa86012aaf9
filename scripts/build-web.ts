/**
 * `make web`: bundles the web page (`web/`) into `dist/web/` with esbuild — the TypeScript
 * sources into one minified ES module, the styles into one file, both named after a hash of
 * their content, and `index.html` pointing at them. The service serves the result at `GET /`
 * (`src/http/page.ts`); nothing is fetched from elsewhere at run time.
 *
 * `--watch`: rebuilds on every change of `web/` (restart the service to serve the new build).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import sharp from 'sharp';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'web');
const out = path.join(root, 'dist', 'web');
const assets = path.join(out, 'assets');

/** Browsers of the last few years; the page uses ES2022 and CSS grid. */
const target = ['es2022', 'chrome111', 'edge111', 'firefox111', 'safari16.4'];

async function build(): Promise<void> {
  await rm(out, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(source, 'src', 'main.ts'), styles: path.join(source, 'styles.css') },
    bundle: true,
    format: 'esm',
    target,
    minify: true,
    sourcemap: 'linked',
    entryNames: '[name]-[hash]',
    outdir: assets,
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
    tsconfig: path.join(source, 'tsconfig.json'),
  });
  const output = (entry: string, ext: string): string => {
    const file = Object.keys(result.metafile.outputs).find((o) => path.basename(o).startsWith(`${entry}-`) && o.endsWith(ext));
    if (!file) throw new Error(`esbuild wrote no ${entry}${ext}`);
    return `/assets/${path.basename(file)}`;
  };

  const icon = await readFile(path.join(source, 'icon.svg'));
  const iconName = `icon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
  await writeFile(path.join(assets, iconName), icon);
  // What browsers ask for on their own (Redoc's and Swagger UI's pages name no icon of ours): the
  // same icon as a 32 × 32 PNG, which every browser takes at /favicon.ico.
  await sharp(icon, { density: 300 }).resize(32, 32).png().toFile(path.join(out, 'favicon.ico'));

  const names: Record<string, string> = {
    script: output('app', '.js'),
    style: output('styles', '.css'),
    icon: `/assets/${iconName}`,
  };
  // The example photos to click, from resources/samples/ (licences in its README).
  for (const [name, file] of [['sample-cat', 'cat.png'], ['sample-cat-64', 'cat-64.jpg']] as const) {
    const bytes = await readFile(path.join(root, 'resources', 'samples', file));
    const hashed = `${name}-${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}${path.extname(file)}`;
    await writeFile(path.join(assets, hashed), bytes);
    names[name] = `/assets/${hashed}`;
  }
  const template = await readFile(path.join(source, 'index.html'), 'utf8');
  const html = template.replace(/\{\{([\w-]+)\}\}/g, (whole, name: string) => {
    const value = names[name];
    if (value === undefined) throw new Error(`web/index.html: unknown placeholder ${whole}`);
    return value;
  });
  await writeFile(path.join(out, 'index.html'), html);
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  process.stdout.write(`web: ${path.relative(root, out)}/ (${names.script}, ${names.style}; ${Math.round(bytes / 1024)} KiB with source maps)\n`);
}

await build();
if (process.argv.includes('--watch')) {
  const { watch } = await import('node:fs');
  let timer: NodeJS.Timeout | undefined;
  watch(source, { recursive: true }, () => {
    clearTimeout(timer);
    timer = setTimeout(() => void build().catch((err: unknown) => process.stderr.write(`${String(err)}\n`)), 100);
  });
  process.stdout.write('web: watching web/ for changes\n');
}
