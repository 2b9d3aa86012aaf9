/**
 * Memoises openapi-backend's routing, which it redoes from the document at each request although
 * the document no longer changes after `init()`:
 *
 * - `getOperations()` rebuilds the list of operations (a lodash chain over every path), several
 *   times per request;
 * - `matchOperation()` matches a path with parameters (`/v2/models/{model_name}/infer`) by turning
 *   every path of the spec into a regular expression, at every request. Under the CPU profiler,
 *   openapi-backend took 0.70 ms of the event loop per V2 request (batches of 8 at c=4), 0.43 with
 *   this; `make bench`: the event loop's CPU per one-image V2 request × 0.91, `/upload` (matched
 *   exactly) unchanged (docs/performance.md, levers).
 *
 * The operation a request matched is kept by method and path, so the library's own matcher still
 * decides every match (404 and 405 included, which are not kept). At most `maxEntries` are kept,
 * the oldest dropped first: paths a client makes up (model names) cannot grow it without bound.
 *
 * This relies on openapi-backend's internals (the router's two methods): its version is pinned
 * exactly in package.json, and test/unit/http/api.test.ts fails when what this relies on changes.
 */
import type { OpenAPIRouter, Operation, Request } from 'openapi-backend';

/** How many matched (method, path) pairs are kept by default. */
const MATCHES_KEPT = 512;

/** Memoises `router`'s operations and matches in place; returns how many matches it keeps. */
export function memoiseRouting(router: OpenAPIRouter, maxEntries = MATCHES_KEPT): { readonly kept: () => number } {
  const operations = router.getOperations();
  router.getOperations = () => operations;

  const match = router.matchOperation.bind(router) as (req: Request, strict?: boolean) => Operation | undefined;
  const matches = new Map<string, Operation>();
  function matchOperation(req: Request): Operation | undefined;
  function matchOperation(req: Request, strict: boolean): Operation;
  function matchOperation(req: Request, strict?: boolean): Operation | undefined {
    const key = `${req.method} ${req.path}`;
    const kept = matches.get(key);
    if (kept) return kept;
    const found = match(req, strict);
    if (found) {
      if (matches.size >= maxEntries) matches.delete(matches.keys().next().value!);
      matches.set(key, found);
    }
    return found;
  }
  router.matchOperation = matchOperation;
  return { kept: () => matches.size };
}
