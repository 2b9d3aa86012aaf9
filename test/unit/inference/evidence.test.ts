/**
 * The evidence per version (issue 26, item 3): answers per label, the confidence histogram and the
 * low-confidence share, feedback accuracy, and the drift (PSI over a sliding window) against the
 * manifest's reference; and the same numbers as Prometheus metrics.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { registerEvidenceMetrics } from '../../../src/evidence-metrics.js';
import {
  createEvidence,
  DRIFT_ALERT_PSI,
  MIN_DRIFT_ANSWERS,
  populationStabilityIndex,
  type EvidenceModel,
} from '../../../src/inference/evidence.js';

const labels = ['Cat', 'Dog', 'Other'];
const reference = { predicted: { Cat: 0.34, Dog: 0.38, Other: 0.28 }, answers: 85 };
const v1: EvidenceModel = { name: 'catdog', version: '1', manifest: { labels, reference } };
const v2: EvidenceModel = { name: 'catdog', version: '2', manifest: { labels } };

/** An answer `prediction` with top probability `top`, the rest shared by the others. */
const answer = (prediction: string, top = 0.9) => ({
  labels,
  prediction,
  values: labels.map((l) => (l === prediction ? top : (1 - top) / 2)),
});

describe('evidence per version', () => {
  it('computes the PSI as Σ (a − e) ln(a / e), each share floored at 0.001', () => {
    expect(populationStabilityIndex([0.34, 0.38, 0.28], [0.34, 0.38, 0.28])).to.equal(0);
    const shifted = populationStabilityIndex([0.5, 0.3, 0.2], [0.34, 0.38, 0.28]);
    const expected = 0.16 * Math.log(0.5 / 0.34) + -0.08 * Math.log(0.3 / 0.38) + -0.08 * Math.log(0.2 / 0.28);
    expect(shifted).to.be.closeTo(expected, 1e-12);
    // Only dogs: two labels absent, floored at 0.001.
    const dogs = populationStabilityIndex([0, 1, 0], [0.34, 0.38, 0.28]);
    expect(dogs).to.be.closeTo((0.001 - 0.34) * Math.log(0.001 / 0.34) + 0.62 * Math.log(1 / 0.38) + (0.001 - 0.28) * Math.log(0.001 / 0.28), 1e-12);
    expect(dogs).to.be.greaterThan(DRIFT_ALERT_PSI);
  });

  it('counts answers per label, their confidence in cumulative buckets, and the low-confidence ones', () => {
    const evidence = createEvidence({ windowAnswers: 100, lowConfidence: 0.6 }, () => [v1]);
    evidence.observe(v1, answer('Cat', 0.95));
    evidence.observe(v1, answer('Dog', 0.55));
    evidence.observe(v1, answer('Dog', 0.72));
    const [e] = evidence.versions();
    expect(e!.answers).to.deep.equal({ Cat: 1, Dog: 2, Other: 0 });
    const buckets = Object.fromEntries(e!.confidence.buckets.map((b) => [b.le, b.count]));
    expect(buckets).to.deep.include({ 0.5: 0, 0.6: 1, 0.7: 1, 0.8: 2, 0.95: 3, 1: 3 });
    expect(e!.confidence).to.include({ count: 3, low: 1, lowThreshold: 0.6 });
    expect(e!.confidence.sum).to.be.closeTo(0.95 + 0.55 + 0.72, 1e-12);
    expect(e!.confidence.lowShareWindow).to.be.closeTo(1 / 3, 1e-12);
    expect(e!.history).to.have.length(1);
    expect(e!.history[0]!.answers).to.deep.equal({ Cat: 1, Dog: 2, Other: 0 });
  });

  it('measures the drift over the last answers only: a window that slides, reported from 30 answers', () => {
    const evidence = createEvidence({ windowAnswers: 50, lowConfidence: 0.6 }, () => [v1]);
    const order = ['Cat', 'Dog', 'Other'];
    for (let i = 0; i < MIN_DRIFT_ANSWERS - 1; i++) evidence.observe(v1, answer(order[i % 3]!));
    expect(evidence.versions()[0]!.drift.psi, 'under 30 answers').to.equal(null);
    evidence.observe(v1, answer('Cat'));
    for (let i = MIN_DRIFT_ANSWERS; i < 50; i++) evidence.observe(v1, answer(order[i % 3]!));
    const balanced = evidence.versions()[0]!.drift;
    expect(balanced.windowAnswers).to.equal(50);
    expect(balanced.psi).to.be.lessThan(0.1);
    // Only dogs from now on: the window forgets the mixed answers one by one.
    let dogs = 0;
    while ((evidence.versions()[0]!.drift.psi ?? 0) <= DRIFT_ALERT_PSI) {
      evidence.observe(v1, answer('Dog'));
      dogs++;
    }
    expect(dogs, 'dogs it takes to cross the alert threshold').to.be.within(1, 50);
    for (let i = 0; i < 50; i++) evidence.observe(v1, answer('Dog'));
    const drift = evidence.versions()[0]!.drift;
    expect(drift.window).to.deep.equal({ Cat: 0, Dog: 50, Other: 0 });
    expect(drift.windowAnswers).to.equal(50);
    expect(drift.psi).to.be.closeTo(populationStabilityIndex([0, 1, 0], [0.34, 0.38, 0.28]), 1e-12);
    expect(evidence.versions()[0]!.answers.Dog, 'the totals keep everything').to.equal(17 + dogs + 50);
  });

  it('measures no drift for a version without a reference', () => {
    const evidence = createEvidence({ windowAnswers: 40, lowConfidence: 0.6 }, () => [v2]);
    for (let i = 0; i < 40; i++) evidence.observe(v2, answer('Dog'));
    expect(evidence.versions()[0]!.drift).to.include({ reference: null, psi: null, windowAnswers: 40 });
  });

  it('counts feedback right or wrong against the answer; a capture labelled again counts once, with its latest label', () => {
    const evidence = createEvidence({ windowAnswers: 40, lowConfidence: 0.6 }, () => [v1]);
    expect(evidence.versions()[0]!.feedback).to.deep.equal({ correct: 0, incorrect: 0, accuracy: null });
    const target = { model: 'catdog', version: '1', prediction: 'Dog' };
    evidence.observeFeedback(target, 'dog');
    evidence.observeFeedback(target, 'Cat');
    expect(evidence.versions()[0]!.feedback).to.deep.equal({ correct: 1, incorrect: 1, accuracy: 0.5 });
    evidence.observeFeedback(target, 'Dog', 'Cat');
    expect(evidence.versions()[0]!.feedback).to.deep.equal({ correct: 2, incorrect: 0, accuracy: 1 });
    // A version not loaded: nowhere to count it.
    evidence.observeFeedback({ ...target, version: '7' }, 'Cat');
    expect(evidence.versions().map((e) => e.version)).to.deep.equal(['1']);
  });

  it('keeps the evidence of the versions loaded only', () => {
    let loaded = [v1, v2];
    const evidence = createEvidence({ windowAnswers: 40, lowConfidence: 0.6 }, () => loaded);
    evidence.observe(v1, answer('Cat'));
    evidence.observe(v2, answer('Dog'));
    expect(evidence.versions().map((e) => e.version)).to.deep.equal(['1', '2']);
    loaded = [v2];
    expect(evidence.versions().map((e) => e.version)).to.deep.equal(['2']);
    loaded = [v1, v2];
    expect(evidence.versions()[0]!.answers, 'a version loaded again starts afresh').to.deep.equal({ Cat: 0, Dog: 0, Other: 0 });
  });

  it('reports the same numbers as Prometheus metrics, with bounded labels', async () => {
    const evidence = createEvidence({ windowAnswers: 40, lowConfidence: 0.6 }, () => [v1, v2]);
    for (let i = 0; i < 30; i++) evidence.observe(v1, answer('Dog', i % 2 ? 0.99 : 0.5));
    evidence.observe(v2, answer('Cat', 0.7));
    evidence.observeFeedback({ model: 'catdog', version: '1', prediction: 'Dog' }, 'Cat');
    const registry = new Registry();
    registerEvidenceMetrics(registry, () => evidence.versions());
    const text = await registry.metrics();
    const [e1] = evidence.versions();
    expect(text).to.contain('catdog_model_answers_total{model="catdog",version="1",label="Dog"} 30');
    expect(text).to.contain('catdog_model_answers_total{model="catdog",version="2",label="Cat"} 1');
    expect(text).to.contain('# TYPE catdog_model_confidence histogram');
    expect(text).to.contain('catdog_model_confidence_bucket{model="catdog",version="1",le="0.5"} 15');
    expect(text).to.contain('catdog_model_confidence_bucket{model="catdog",version="1",le="+Inf"} 30');
    expect(text).to.contain('catdog_model_confidence_count{model="catdog",version="1"} 30');
    expect(text).to.contain('catdog_model_low_confidence_answers_total{model="catdog",version="1"} 15');
    expect(text).to.contain('catdog_model_low_confidence_share{model="catdog",version="1"} 0.5');
    expect(text).to.contain('catdog_model_feedback_total{model="catdog",version="1",outcome="incorrect"} 1');
    expect(text).to.contain('catdog_model_accuracy{model="catdog",version="1"} 0');
    expect(text).to.contain(`catdog_model_drift_psi{model="catdog",version="1"} ${e1!.drift.psi}`);
    expect(text).not.to.match(/catdog_model_drift_psi\{model="catdog",version="2"\}/);
    expect(text).to.contain('catdog_model_drift_window_answers{model="catdog",version="2"} 1');
  });
});
