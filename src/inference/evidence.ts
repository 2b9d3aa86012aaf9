/**
 * Evidence per model version: what its answers look like, how often feedback says they were
 * right, and whether they drift from what it answered in training. The core observes every
 * classification it answers (`/upload`, V2 over REST and gRPC) through {@link Evidence.observe};
 * the feedback (`POST /feedback`, Label Studio's webhook) arrives through
 * {@link Evidence.observeFeedback}; the metrics (`catdog_model_answers_total`...) and
 * `GET /v2/repository/models/{name}/evidence` both read {@link Evidence.versions}, so they agree.
 *
 * Per version (docs/evidence.md):
 * - answers per predicted label, since the version was loaded;
 * - a histogram of the confidence (the top probability), and the answers under
 *   {@link EvidenceOptions.lowConfidence} (all of them, and their share in the window);
 * - feedback: answers a label confirmed (correct) or contradicted (incorrect); a capture labelled
 *   again counts once, with its latest label;
 * - drift: the population stability index (PSI) of the predicted labels of the last
 *   {@link EvidenceOptions.windowAnswers} answers against the manifest's `reference`,
 *   `Σ (a − e) · ln(a / e)` over the labels, each share floored at {@link PSI_FLOOR}; reported
 *   once the window holds {@link MIN_DRIFT_ANSWERS} answers (or is full, if smaller), and never
 *   for a version without a reference.
 *
 * A version's evidence goes when it is unloaded (as its metrics' series do): its labels stay bounded.
 */
import type { Manifest } from '../model/manifest.js';
import type { Classification } from '../model/postprocess.js';

/** Upper bounds of the confidence histogram's buckets (the top probability, 1/labels..1). */
export const CONFIDENCE_BUCKETS: readonly number[] = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];

/** Smallest share a label takes in the PSI, so that a label absent on one side gives a large but finite term. */
const PSI_FLOOR = 0.001;

/** Answers the drift window must hold before the PSI is reported (fewer: too noisy). */
export const MIN_DRIFT_ANSWERS = 30;

/**
 * The PSI over which the answers have shifted (the usual rule: under 0.1 no shift, 0.1 to 0.25 a
 * moderate one, over 0.25 a significant one): the alert `CatdogPredictionDrift` of
 * deploy/prometheus/rules.yaml fires over it, and the page draws it.
 */
export const DRIFT_ALERT_PSI = 0.25;

/** Length of one interval of the answers' history, in milliseconds, and how many are kept. */
const HISTORY_INTERVAL_MS = 60_000;
const HISTORY_INTERVALS = 60;

/** The `EVIDENCE_*` settings. */
export interface EvidenceOptions {
  /** Answers of the sliding window the drift and the low-confidence share are measured over. */
  readonly windowAnswers: number;
  /** An answer whose top probability is under this is a low-confidence answer (0..1). */
  readonly lowConfidence: number;
}

/** A version as the evidence knows it. */
export interface EvidenceModel {
  readonly name: string;
  readonly version: string;
  readonly manifest: Pick<Manifest, 'labels' | 'reference'>;
}

/** What a feedback label was given to: the captured answer. */
export interface FeedbackTarget {
  readonly model: string;
  readonly version: string;
  readonly prediction: string;
}

/** One version's evidence, at one moment. */
export interface VersionEvidence {
  readonly model: string;
  readonly version: string;
  /** The served labels, in the model's order. */
  readonly labels: readonly string[];
  /** Answers since the version was loaded, by predicted label (every label present). */
  readonly answers: Readonly<Record<string, number>>;
  readonly confidence: {
    /** Cumulative counts: `buckets[i]` answers had a top probability ≤ `CONFIDENCE_BUCKETS[i]`. */
    readonly buckets: readonly { readonly le: number; readonly count: number }[];
    readonly count: number;
    readonly sum: number;
    /** The threshold of a low-confidence answer. */
    readonly lowThreshold: number;
    /** Answers under it since the version was loaded. */
    readonly low: number;
    /** Their share of the window's answers; `null` while the window is empty. */
    readonly lowShareWindow: number | null;
  };
  readonly feedback: {
    readonly correct: number;
    readonly incorrect: number;
    /** correct / (correct + incorrect); `null` without feedback. */
    readonly accuracy: number | null;
  };
  /**
   * Answers by predicted label per minute, for the last {@link HISTORY_INTERVALS} minutes that had
   * answers, oldest first; `at` is the minute's start, in milliseconds since the epoch.
   */
  readonly history: readonly { readonly at: number; readonly answers: Readonly<Record<string, number>> }[];
  readonly drift: {
    /** The PSI over which the answers have shifted ({@link DRIFT_ALERT_PSI}). */
    readonly alertPsi: number;
    /** The window's size, and how many answers it holds now. */
    readonly windowSize: number;
    readonly windowAnswers: number;
    /** The window's answers by predicted label. */
    readonly window: Readonly<Record<string, number>>;
    /** The manifest's reference shares; `null`: the version has none (no drift is measured). */
    readonly reference: Readonly<Record<string, number>> | null;
    /** The PSI of the window against the reference; `null` without a reference or with too few answers. */
    readonly psi: number | null;
  };
}

/** See the module comment. */
export interface Evidence {
  /** One answer of `model`. */
  observe(model: EvidenceModel, result: Pick<Classification, 'labels' | 'values' | 'prediction'>): void;
  /**
   * A feedback `label` given to an answer of `target`; `previous` is the label the same capture had
   * before (it no longer counts), if any.
   */
  observeFeedback(target: FeedbackTarget, label: string, previous?: string): void;
  /** The evidence of every version loaded now (others are dropped), by model then version. */
  versions(): readonly VersionEvidence[];
}

interface State {
  readonly model: EvidenceModel;
  readonly labels: readonly string[];
  readonly answers: number[];
  /** Non-cumulative counts per bucket of {@link CONFIDENCE_BUCKETS}. */
  readonly buckets: number[];
  sum: number;
  count: number;
  low: number;
  correct: number;
  incorrect: number;
  /** The window: each answer's label index, and whether it was of low confidence (+ labels.length). */
  readonly ring: Uint16Array;
  next: number;
  filled: number;
  readonly windowCounts: number[];
  windowLow: number;
  /** Minute (ms since the epoch / interval) → answers by label index; at most {@link HISTORY_INTERVALS}. */
  readonly history: Map<number, number[]>;
}

/** The population stability index of `actual` against `expected` (shares), each floored at {@link PSI_FLOOR}. */
export function populationStabilityIndex(actual: readonly number[], expected: readonly number[]): number {
  let psi = 0;
  for (const [i, e] of expected.entries()) {
    const a = Math.max(actual[i] ?? 0, PSI_FLOOR);
    const f = Math.max(e, PSI_FLOOR);
    psi += (a - f) * Math.log(a / f);
  }
  return psi;
}

/** Creates the evidence; `loaded` gives the versions loaded now (the others' evidence is dropped). */
export function createEvidence(options: EvidenceOptions, loaded: () => readonly EvidenceModel[]): Evidence {
  const states = new Map<string, State>();
  const key = (name: string, version: string): string => `${name}/${version}`;
  const size = Math.max(1, Math.floor(options.windowAnswers));

  const stateOf = (model: EvidenceModel): State => {
    let state = states.get(key(model.name, model.version));
    if (!state) {
      const labels = [...model.manifest.labels];
      state = {
        model,
        labels,
        answers: labels.map(() => 0),
        buckets: CONFIDENCE_BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
        low: 0,
        correct: 0,
        incorrect: 0,
        ring: new Uint16Array(size),
        next: 0,
        filled: 0,
        windowCounts: labels.map(() => 0),
        windowLow: 0,
        history: new Map(),
      };
      states.set(key(model.name, model.version), state);
    }
    return state;
  };

  /** The state of every version loaded now, created if need be; the others' are dropped. */
  const current = (): State[] => {
    const models = loaded();
    const live = new Set(models.map((m) => key(m.name, m.version)));
    for (const k of states.keys()) if (!live.has(k)) states.delete(k);
    return models.map(stateOf);
  };

  const snapshot = (s: State): VersionEvidence => {
    const { labels } = s;
    const record = (counts: readonly number[]): Record<string, number> => Object.fromEntries(labels.map((l, i) => [l, counts[i]!]));
    let cumulative = 0;
    const reference = s.model.manifest.reference?.predicted;
    const enough = s.filled >= Math.min(MIN_DRIFT_ANSWERS, size);
    const psi = reference && enough
      ? populationStabilityIndex(s.windowCounts.map((n) => n / s.filled), labels.map((l) => reference[l] ?? 0))
      : null;
    const judged = s.correct + s.incorrect;
    return {
      model: s.model.name,
      version: s.model.version,
      labels,
      answers: record(s.answers),
      confidence: {
        buckets: CONFIDENCE_BUCKETS.map((le, i) => ({ le, count: (cumulative += s.buckets[i]!) })),
        count: s.count,
        sum: s.sum,
        lowThreshold: options.lowConfidence,
        low: s.low,
        lowShareWindow: s.filled === 0 ? null : s.windowLow / s.filled,
      },
      feedback: { correct: s.correct, incorrect: s.incorrect, accuracy: judged === 0 ? null : s.correct / judged },
      history: [...s.history].map(([minute, counts]) => ({ at: minute * HISTORY_INTERVAL_MS, answers: record(counts) })),
      drift: {
        alertPsi: DRIFT_ALERT_PSI,
        windowSize: size,
        windowAnswers: s.filled,
        window: record(s.windowCounts),
        reference: reference ? Object.fromEntries(labels.map((l) => [l, reference[l] ?? 0])) : null,
        psi,
      },
    };
  };

  return {
    observe(model, result) {
      const s = stateOf(model);
      const index = s.labels.indexOf(result.prediction);
      if (index < 0) return;
      const top = Math.max(...result.values);
      const low = top < options.lowConfidence;
      s.answers[index]!++;
      s.count++;
      s.sum += top;
      const bucket = CONFIDENCE_BUCKETS.findIndex((le) => top <= le);
      s.buckets[bucket < 0 ? CONFIDENCE_BUCKETS.length - 1 : bucket]!++;
      if (low) s.low++;
      // The window: the oldest answer leaves as this one comes in.
      if (s.filled === size) {
        const old = s.ring[s.next]!;
        const oldLow = old >= s.labels.length;
        s.windowCounts[oldLow ? old - s.labels.length : old]!--;
        if (oldLow) s.windowLow--;
      } else {
        s.filled++;
      }
      s.ring[s.next] = low ? index + s.labels.length : index;
      s.next = (s.next + 1) % size;
      s.windowCounts[index]!++;
      if (low) s.windowLow++;
      const minute = Math.floor(Date.now() / HISTORY_INTERVAL_MS);
      let counts = s.history.get(minute);
      if (!counts) {
        counts = s.labels.map(() => 0);
        s.history.set(minute, counts);
        // Insertion order is time order: the oldest minute is the first key.
        if (s.history.size > HISTORY_INTERVALS) s.history.delete(s.history.keys().next().value!);
      }
      counts[index]!++;
    },

    observeFeedback(target, label, previous) {
      const model = loaded().find((m) => m.name === target.model && m.version === target.version);
      // Feedback on a version not loaded counts nowhere: its evidence has gone.
      if (!model) return;
      const s = stateOf(model);
      const same = (a: string): boolean => a.toLowerCase() === target.prediction.toLowerCase();
      if (previous !== undefined) {
        if (same(previous)) s.correct = Math.max(0, s.correct - 1);
        else s.incorrect = Math.max(0, s.incorrect - 1);
      }
      if (same(label)) s.correct++;
      else s.incorrect++;
    },

    versions() {
      return current()
        .sort((a, b) => a.model.name.localeCompare(b.model.name) || Number(a.model.version) - Number(b.model.version))
        .map(snapshot);
    },
  };
}
