/**
 * The spec and its interactive docs: `/openapi.json`, `/openapi.yaml`, Swagger UI at `/docs`
 * and Redoc at `/redoc`. Every asset comes from npm packages on this machine (no CDN).
 */
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Document } from 'openapi-backend';
import { stringify } from 'yaml';
import type { AppMiddleware } from './state.js';

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

// Redoc's menu footer loads the vendor's logo from its CDN; the policy keeps every request on
// this server (Redoc injects its styles and runs its search in a blob worker).
const redocPolicy =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'";

/**
 * `definition` with `tokenUrl` as the token URL of every OAuth2 client-credentials flow (the
 * committed spec names the local development issuer's).
 */
function withTokenUrl(definition: Document, tokenUrl: string | undefined): Document {
  if (tokenUrl === undefined) return definition;
  const copy = structuredClone(definition);
  for (const scheme of Object.values(copy.components?.securitySchemes ?? {})) {
    const flow = (scheme as { type?: string; flows?: { clientCredentials?: { tokenUrl?: string } } }).flows?.clientCredentials;
    if ((scheme as { type?: string }).type === 'oauth2' && flow) flow.tokenUrl = tokenUrl;
  }
  return copy;
}

/**
 * Serves `definition` (the spec as this app enforces it) and the docs; every other request
 * passes through. The document is serialised here, before openapi-backend dereferences it, and
 * again when `tokenUrl` (the issuer's token endpoint, known once discovered) first answers or
 * changes, so that Swagger UI's "Authorize" asks the issuer the service trusts.
 */
export function docsMiddleware(definition: Document, tokenUrl: () => string | undefined = () => undefined): AppMiddleware {
  const source = structuredClone(definition);
  let served: { tokenUrl: string | undefined; json: string; yaml: string } | undefined;
  const spec = (): { json: string; yaml: string } => {
    const url = tokenUrl();
    if (served?.tokenUrl !== url || served === undefined) {
      const document = withTokenUrl(source, url);
      served = { tokenUrl: url, json: JSON.stringify(document), yaml: stringify(document) };
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
      ctx.body = swaggerPage;
    } else if (p === '/docs/init.js') {
      ctx.type = 'application/javascript; charset=utf-8';
      ctx.body = swaggerInit;
    } else if (assetType !== undefined) {
      ctx.type = assetType;
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = createReadStream(path.join(swaggerDir, asset));
    } else if (p === '/redoc' || p === '/redoc/') {
      ctx.type = 'text/html; charset=utf-8';
      ctx.set('Content-Security-Policy', redocPolicy);
      ctx.body = redocPage;
    } else if (p === '/redoc/redoc.standalone.js') {
      ctx.type = 'application/javascript; charset=utf-8';
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = createReadStream(redocBundle);
    } else {
      await next();
    }
  };
}
