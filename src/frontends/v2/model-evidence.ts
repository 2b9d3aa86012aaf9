/**
 * `GET /v2/repository/models/{model_name}/evidence`: the evidence of each loaded version of a
 * model (`src/inference/evidence.ts`), the same counts the metrics report, for the page's
 * Monitoring view. A model the repository does not know answers 404 `model-not-found`.
 */
import type { operations } from '../../../generated/openapi.js';
import { ModelNotFound } from '../../errors.js';
import type { OperationHandler } from '../../http/operation.js';
import type { VersionEvidence } from '../../inference/evidence.js';
import type { IndexEntry } from '../../repository/types.js';

type Body = operations['getModelEvidence']['responses'][200]['content']['application/json'];

/** One version's evidence as the spec's `VersionEvidence`. */
function versionEvidenceBody(e: VersionEvidence): Body['versions'][number] {
  const { confidence, feedback, drift } = e;
  return {
    version: e.version,
    labels: [...e.labels],
    answers: { ...e.answers },
    confidence: {
      buckets: confidence.buckets.map((b) => ({ ...b })),
      count: confidence.count,
      sum: confidence.sum,
      low_threshold: confidence.lowThreshold,
      low: confidence.low,
      low_share: confidence.lowShareWindow,
    },
    feedback: { ...feedback },
    history: e.history.map((h) => ({ at: h.at, answers: { ...h.answers } })),
    drift: {
      alert_psi: drift.alertPsi,
      window_size: drift.windowSize,
      window_answers: drift.windowAnswers,
      window: { ...drift.window },
      reference: drift.reference === null ? null : { ...drift.reference },
      psi: drift.psi,
    },
    // Filled by the shadow traffic (issue 26, items 1-2) while this version answers in the shadow.
    shadow: null,
  };
}

/** The handler: `evidence` gives every loaded version's, `index` the models the repository knows. */
export function getModelEvidence(evidence: () => readonly VersionEvidence[], index: () => readonly IndexEntry[]): OperationHandler {
  return (c, ctx) => {
    const { model_name: name } = c.request.params as operations['getModelEvidence']['parameters']['path'];
    if (!index().some((e) => e.name === name)) throw new ModelNotFound(name);
    const body: Body = { name, versions: evidence().filter((e) => e.model === name).map(versionEvidenceBody) };
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
