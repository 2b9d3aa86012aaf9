/**
 * The web page at `GET /` (drop a photo, see the answer): the files that `make web` bundles from
 * `web/` into `dist/web/` — `index.html` and content-hashed scripts and styles under `/assets/` —
 * read into memory once at start-up and served with a strict Content-Security-Policy: scripts and
 * styles from this origin only (no inline code), calls to this origin and the token issuer only,
 * never framed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AppMiddleware } from './context.js';

/** Where the built page is and whom it may call. */
export interface PageOptions {
  /** Folder of the built page (`dist/web/`, written by `make web`). */
  readonly dir: string;
  /**
   * Origins besides this service's that the page's scripts may call: the issuer (its discovery
   * document) and its token endpoint. Asked at each page load: the token endpoint is known once
   * the issuer has been discovered.
   */
  readonly connectOrigins?: () => readonly string[];
}

/** Whether the page was found, for the start-up log. */
export interface Page {
  readonly middleware: AppMiddleware;
  /** `false` when `dir` holds no `index.html` (`make web` not run): `GET /` is then a 404. */
  readonly built: boolean;
}

const types: Readonly<Record<string, string>> = {
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
  // The example photos (resources/samples/).
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

/** The Content-Security-Policy of the page; `connect` are the other origins it may call. */
export function pagePolicy(connect: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // The photo is shown from a blob: URL made of the dropped file; nothing else is loaded.
    "img-src 'self' blob:",
    ['connect-src', "'self'", ...new Set(connect)].join(' '),
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    // The page never turns strings into HTML or script; Trusted Types makes any attempt fail.
    "require-trusted-types-for 'script'",
  ].join('; ');
}

/** Headers of every file of the page, besides its CSP. */
const securityHeaders: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Permissions-Policy': 'geolocation=(), microphone=(), payment=(), usb=()',
};

interface File {
  readonly type: string;
  readonly body: Buffer;
}

/** The origin of `url`, or `undefined` when it is not an absolute http(s) URL. */
export function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const { protocol, origin } = new URL(url);
    return protocol === 'http:' || protocol === 'https:' ? origin : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the built page from `options.dir` and returns the middleware that serves it. */
export function createPage(options: PageOptions): Page {
  const indexFile = path.join(options.dir, 'index.html');
  if (!existsSync(indexFile)) {
    return {
      built: false,
      middleware: async (_ctx, next) => {
        await next();
      },
    };
  }
  const index = readFileSync(indexFile);
  const assets = new Map<string, File>();
  const assetDir = path.join(options.dir, 'assets');
  for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
    const type = types[path.extname(name)];
    if (type) assets.set(`/assets/${name}`, { type, body: readFileSync(path.join(assetDir, name)) });
  }
  // Asked for by browsers on their own, on every page of this origin (the docs too).
  const favicon = path.join(options.dir, 'favicon.ico');
  if (existsSync(favicon)) assets.set('/favicon.ico', { type: 'image/png', body: readFileSync(favicon) });
  const connectOrigins = options.connectOrigins ?? (() => []);

  const middleware: AppMiddleware = async (ctx, next) => {
    const asset = assets.get(ctx.path);
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || (ctx.path !== '/' && asset === undefined)) {
      await next();
      return;
    }
    ctx.set(securityHeaders);
    if (asset) {
      // Names under /assets/ carry a hash of the content: a new build has new names.
      ctx.set('Cache-Control', ctx.path === '/favicon.ico' ? 'public, max-age=86400' : 'public, max-age=31536000, immutable');
      ctx.type = asset.type;
      ctx.body = asset.body;
    } else {
      ctx.set('Content-Security-Policy', pagePolicy(connectOrigins()));
      ctx.set('Cache-Control', 'no-cache');
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = index;
    }
  };
  return { built: true, middleware };
}
