/**
 * The evidence per model version (`src/inference/evidence.ts`) as Prometheus metrics, read from
 * the same snapshot `GET /v2/repository/models/{name}/evidence` answers with, when scraped.
 * Labels are bounded: `model` and `version` of the versions loaded now (a version's series go
 * when it is unloaded), `label` among its manifest's labels, `outcome` correct or incorrect.
 * docs/evidence.md lists them, with the alerting rule of the drift (deploy/prometheus/rules.yaml).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CONFIDENCE_BUCKETS, type VersionEvidence } from './inference/evidence.js';

type HistogramValues = Awaited<ReturnType<Histogram<'model' | 'version'>['get']>>;

const CONFIDENCE = 'catdog_model_confidence';
const CONFIDENCE_HELP = 'Confidence (the top probability) of the answers of each version loaded, since it was loaded.';

/** A histogram whose buckets are counted elsewhere (the evidence): each scrape reports them as they are. */
class SnapshotHistogram extends Histogram<'model' | 'version'> {
  constructor(
    private readonly source: () => readonly VersionEvidence[],
    registers: Registry[],
  ) {
    super({ name: CONFIDENCE, help: CONFIDENCE_HELP, labelNames: ['model', 'version'] as const, buckets: [...CONFIDENCE_BUCKETS], registers });
  }

  override async get(): Promise<HistogramValues> {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const e of this.source()) {
      const labels = { model: e.model, version: e.version };
      for (const { le, count } of e.confidence.buckets) values.push({ metricName: `${CONFIDENCE}_bucket`, labels: { ...labels, le }, value: count });
      values.push({ metricName: `${CONFIDENCE}_bucket`, labels: { ...labels, le: '+Inf' }, value: e.confidence.count });
      values.push({ metricName: `${CONFIDENCE}_sum`, labels, value: e.confidence.sum });
      values.push({ metricName: `${CONFIDENCE}_count`, labels, value: e.confidence.count });
    }
    return { name: CONFIDENCE, help: CONFIDENCE_HELP, type: 'histogram', values, aggregator: 'sum' } as unknown as HistogramValues;
  }

  /** What the registry's text exposition reads (prom-client's own histogram reads its observations there). */
  getForPromString(): Promise<HistogramValues> {
    return this.get();
  }
}

/** Registers the evidence's instruments in `registry`. */
export function registerEvidenceMetrics(registry: Registry, source: () => readonly VersionEvidence[]): void {
  const registers = [registry];
  new Counter({
    name: 'catdog_model_answers_total',
    help: 'Answers of each version loaded (POST /upload, V2 over REST and gRPC), by predicted label, since it was loaded.',
    labelNames: ['model', 'version', 'label'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source()) for (const [label, n] of Object.entries(e.answers)) this.inc({ model: e.model, version: e.version, label }, n);
    },
  });
  new SnapshotHistogram(source, registers);
  new Counter({
    name: 'catdog_model_low_confidence_answers_total',
    help: 'Answers whose top probability was under EVIDENCE_LOW_CONFIDENCE, by version, since it was loaded.',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source()) this.inc({ model: e.model, version: e.version }, e.confidence.low);
    },
  });
  new Gauge({
    name: 'catdog_model_low_confidence_share',
    help: 'Share of the last EVIDENCE_WINDOW_ANSWERS answers of each version whose top probability was under EVIDENCE_LOW_CONFIDENCE (absent while it has none).',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source()) if (e.confidence.lowShareWindow !== null) this.set({ model: e.model, version: e.version }, e.confidence.lowShareWindow);
    },
  });
  new Counter({
    name: 'catdog_model_feedback_total',
    help: 'Feedback labels (POST /feedback, Label Studio) given to captured answers of each version since it was loaded, by outcome: correct (the label is the prediction) or incorrect.',
    labelNames: ['model', 'version', 'outcome'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source()) {
        this.inc({ model: e.model, version: e.version, outcome: 'correct' }, e.feedback.correct);
        this.inc({ model: e.model, version: e.version, outcome: 'incorrect' }, e.feedback.incorrect);
      }
    },
  });
  new Gauge({
    name: 'catdog_model_accuracy',
    help: 'Share of the feedback labels that confirmed the answer, by version (absent without feedback).',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source()) if (e.feedback.accuracy !== null) this.set({ model: e.model, version: e.version }, e.feedback.accuracy);
    },
  });
  new Gauge({
    name: 'catdog_model_drift_psi',
    help: 'Population stability index of the predicted labels of the last EVIDENCE_WINDOW_ANSWERS answers against the version\'s training reference (absent without a reference or under 30 answers); over 0.25: the answers have shifted (alert CatdogPredictionDrift).',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source()) if (e.drift.psi !== null) this.set({ model: e.model, version: e.version }, e.drift.psi);
    },
  });
  new Gauge({
    name: 'catdog_model_drift_window_answers',
    help: 'Answers in the drift window of each version (at most EVIDENCE_WINDOW_ANSWERS).',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source()) this.set({ model: e.model, version: e.version }, e.drift.windowAnswers);
    },
  });
}
