/**
 * deploy/prometheus/rules.yaml (issue 26, item 3): the drift alert fires over the threshold the
 * service documents and the page draws, and every metric the rules read is one the service
 * exports (a renamed metric would leave an alert that never fires).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { createEvidence, DRIFT_ALERT_PSI } from '../../src/inference/evidence.js';
import { createMetrics } from '../../src/metrics.js';
import { rootDir } from '../../src/spec.js';

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const file = path.join(rootDir, 'deploy', 'prometheus', 'rules.yaml');
const rules = (parse(readFileSync(file, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

describe('deploy/prometheus/rules.yaml', () => {
  it('alerts on the drift over the documented threshold, for 10 minutes', () => {
    const drift = rules.find((r) => r.alert === 'CatdogPredictionDrift');
    expect(drift, 'the drift alert').to.not.equal(undefined);
    expect(drift!.expr.replace(/\s+/g, ' ')).to.equal(`max by (model, version) (catdog_model_drift_psi) > ${DRIFT_ALERT_PSI}`);
    expect(drift!.for).to.equal('10m');
    expect(drift!.annotations.summary).to.contain(String(DRIFT_ALERT_PSI));
    const docs = readFileSync(path.join(rootDir, 'docs', 'evidence.md'), 'utf8');
    expect(docs).to.contain('CatdogPredictionDrift').and.to.contain(`${DRIFT_ALERT_PSI}`);
  });

  it('reads only metrics the service exports', async () => {
    const labels = ['Cat', 'Dog', 'Other'];
    const model = { name: 'catdog', version: '1', manifest: { labels } };
    const evidence = createEvidence({ windowAnswers: 30, lowConfidence: 0.6 }, () => [model]);
    const metrics = createMetrics({ models: () => [], inflight: () => 0, queued: () => 0, ready: () => true, evidence: () => evidence.versions() });
    const exported = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
    for (const rule of rules) {
      for (const name of rule.expr.match(/catdog_[a-z_]+/g) ?? []) expect(exported, `${rule.alert} reads ${name}`).to.include(name);
      expect(rule.labels.severity, rule.alert).to.be.oneOf(['warning', 'critical']);
    }
  });
});
