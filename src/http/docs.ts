/**
 * The spec and its interactive docs: `/openapi.json`, `/openapi.yaml`, Swagger UI at `/docs`
 * and Redoc at `/redoc`. Every asset comes from npm packages on this machine (no CDN), and every
 * page carries a Content-Security-Policy that keeps it so, and forbids framing it
 * (`frame-ancestors 'none'`: no clickjacking of the Authorize dialog).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Document } from 'openapi-backend';
import { stringify } from 'yaml';
import { servedSpec } from './served-spec.js';
import type { AppMiddleware } from './context.js';

const require = createRequire(import.meta.url);
const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const redocBundle = require.resolve('redoc/bundles/redoc.standalone.js');

/**
 * The Swagger UI files served under `/docs/`, with their media types. A Map, not an object: a
 * path such as `/docs/constructor` must not find Object.prototype's members.
 */
const swaggerAssets: ReadonlyMap<string, string> = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'application/javascript; charset=utf-8'],
  ['swagger-ui-standalone-preset.js', 'application/javascript; charset=utf-8'],
  ['oauth2-redirect.html', 'text/html; charset=utf-8'],
  ['oauth2-redirect.js', 'application/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
]);

/**
 * Redoc's menu footer always shows the vendor's logo from its CDN; the page's policy blocks it
 * (no request leaves this server), which the browser reports as an error in the console. Served
 * with an empty `src` instead, the image fails quietly and Redoc hides it (its `onError`). If a
 * Redoc release changes the URL, the policy still blocks it.
 */
const redocLogo = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
let redocScript: string | undefined;
function redocStandalone(): string {
  redocScript ??= readFileSync(redocBundle, 'utf8').replaceAll(redocLogo, '');
  return redocScript;
}

const title = 'Cat / Dog / Other classifier';

const swaggerPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} – Swagger UI</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

// In a file of its own, so that a strict Content-Security-Policy (no inline scripts) can apply.
const swaggerInit = `window.ui = SwaggerUIBundle({
  url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true,
  validatorUrl: null, // the default would send the spec to validator.swagger.io
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout',
  oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect.html'
});`;

const redocPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} – Redoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/redoc/redoc.standalone.js"></script></body></html>`;

/** Directives of every page's policy: nothing from elsewhere, no plugins, no framing. */
const basePolicy = "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Swagger UI's policy: scripts only from files here (the init script is one, not inline), inline
 * styles (the UI sets them), data: images (its icons), and fetches to this server and to the
 * token endpoint the served spec names (Authorize's client-credentials request).
 */
function swaggerPolicy(tokenUrl: string | undefined): string {
  let connect = "'self'";
  if (tokenUrl !== undefined) {
    try {
      connect += ` ${new URL(tokenUrl).origin}`;
    } catch {
      // Not an absolute URL: a relative one is on this server already.
    }
  }
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src ${connect}; ${basePolicy}`;
}

// Redoc's menu footer loads the vendor's logo from its CDN; the policy keeps every request on
// this server (Redoc injects its styles and runs its search in a blob worker).
const redocPolicy =
  `default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; ${basePolicy}`;

/** Swagger UI's OAuth2 redirect page: its one script, nothing else. */
const redirectPolicy = `default-src 'none'; script-src 'self'; ${basePolicy}`;

/** The token URL of the first OAuth2 client-credentials flow of `document`, if any. */
function clientCredentialsTokenUrl(document: Document): string | undefined {
  for (const scheme of Object.values(document.components?.securitySchemes ?? {})) {
    const flow = (scheme as { type?: string; flows?: { clientCredentials?: { tokenUrl?: string } } }).flows?.clientCredentials;
    if ((scheme as { type?: string }).type === 'oauth2' && flow?.tokenUrl) return flow.tokenUrl;
  }
  return undefined;
}

/** What the served spec depends on besides the document. */
export interface DocsOptions {
  /** The issuer the service trusts (`OAUTH2_ISSUER`); `undefined` when auth is disabled. */
  readonly issuer?: string;
  /** The issuer's token endpoint once discovered; answers `undefined` while unknown. */
  readonly tokenUrl?: () => string | undefined;
}

/**
 * Serves `definition` (the spec as this app enforces it), as {@link servedSpec} adapts it to the
 * configured issuer, and the docs; every other request passes through. The document is
 * serialised here, before openapi-backend dereferences it, and again when `tokenUrl` first
 * answers or changes, so that Swagger UI's "Authorize" asks the issuer the service trusts.
 */
export function docsMiddleware(definition: Document, options: DocsOptions = {}): AppMiddleware {
  const source = structuredClone(definition);
  const tokenUrl = options.tokenUrl ?? (() => undefined);
  let served: { tokenUrl: string | undefined; json: string; yaml: string; policy: string } | undefined;
  const spec = (): { json: string; yaml: string; policy: string } => {
    const url = tokenUrl();
    if (served?.tokenUrl !== url || served === undefined) {
      const document = servedSpec(source, { issuer: options.issuer, tokenUrl: url });
      served = {
        tokenUrl: url,
        json: JSON.stringify(document),
        yaml: stringify(document),
        policy: swaggerPolicy(clientCredentialsTokenUrl(document)),
      };
    }
    return served;
  };
  spec();
  return async function docs(ctx, next) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      await next();
      return;
    }
    const p = ctx.path;
    const asset = p.startsWith('/docs/') ? p.slice(6) : '';
    const assetType = swaggerAssets.get(asset);
    if (p === '/openapi.json') {
      ctx.type = 'application/json';
      ctx.body = spec().json;
    } else if (p === '/openapi.yaml') {
      ctx.type = 'application/yaml';
      ctx.body = spec().yaml;
    } else if (p === '/docs' || p === '/docs/') {
      ctx.type = 'text/html; charset=utf-8';
      ctx.set('Content-Security-Policy', spec().policy);
      ctx.body = swaggerPage;
    } else if (p === '/docs/init.js') {
      ctx.type = 'application/javascript; charset=utf-8';
      ctx.body = swaggerInit;
    } else if (assetType !== undefined) {
      ctx.type = assetType;
      if (asset === 'oauth2-redirect.html') ctx.set('Content-Security-Policy', redirectPolicy);
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = createReadStream(path.join(swaggerDir, asset));
    } else if (p === '/redoc' || p === '/redoc/') {
      ctx.type = 'text/html; charset=utf-8';
      ctx.set('Content-Security-Policy', redocPolicy);
      ctx.body = redocPage;
    } else if (p === '/redoc/redoc.standalone.js') {
      ctx.type = 'application/javascript; charset=utf-8';
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = redocStandalone();
    } else {
      await next();
    }
  };
}
