/**
 * The answer as the page shows it: the label, its probability, a bar per label with its
 * percentage, the model (and version, when the service names one) and the time taken.
 */
import type { Answer } from './api.js';
import { h } from './dom.js';

const percent = new Intl.NumberFormat('en', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const milliseconds = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

/** `0.8339` → `83.4%`. */
function formatPercent(probability: number): string {
  return percent.format(probability);
}

/** The parts of the page that show an answer. */
export interface AnswerView {
  readonly label: HTMLElement;
  readonly confidence: HTMLElement;
  readonly bars: HTMLElement;
  readonly meta: HTMLElement;
}

/** Fills `view` with `answer`. */
export function showAnswer(view: AnswerView, answer: Answer): void {
  const { prediction } = answer;
  const labels = prediction.labels ?? prediction.values.map((_, i) => `class ${i}`);
  const index = Math.max(0, labels.indexOf(prediction.prediction));
  view.label.textContent = prediction.prediction;
  view.confidence.textContent = `${formatPercent(prediction.values[index] ?? 0)} sure`;

  view.bars.replaceChildren(
    ...labels.map((label, i) => {
      const value = prediction.values[i] ?? 0;
      const fill = h('span', { class: 'fill' });
      // CSSOM, not a style attribute: the Content-Security-Policy allows no inline styles.
      fill.style.width = `${(value * 100).toFixed(1)}%`;
      return h(
        'li',
        { class: label === prediction.prediction ? 'bar predicted' : 'bar' },
        h('span', { class: 'bar-label' }, label),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
        h('span', { class: 'bar-value' }, formatPercent(value)),
      );
    }),
  );

  // `model_version` arrives with named, versioned models; older services do not send it.
  const version = (prediction as { model_version?: unknown }).model_version;
  const parts = [
    prediction.model ? `Model ${prediction.model}${typeof version === 'string' || typeof version === 'number' ? `, version ${version}` : ''}` : undefined,
    `answered in ${milliseconds.format(answer.roundTripMs)} ms`
      + (typeof prediction.elapsed_ms === 'number' ? ` (${milliseconds.format(prediction.elapsed_ms)} ms classifying)` : ''),
  ];
  view.meta.textContent = parts.filter((p) => p !== undefined).join(' · ');
}
