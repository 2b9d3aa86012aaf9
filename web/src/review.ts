/**
 * The Review view: the captured answers the model was least sure of, one at a time, labelled
 * with a click or a key (1, 2, 3… in the order of the model's labels) through `POST /feedback`.
 * Undo (U, or Ctrl+Z) brings the last one back to be labelled again: the service keeps the
 * latest label given for an answer, so choosing again replaces the label (there is no way to
 * remove one).
 */
import type { Capture, Outcome } from './api.js';
import { byId, fitFrame, h, show } from './dom.js';
import { fromError, fromProblem, type Failure } from './problem.js';
import { showAnswer } from './result.js';

/** How many captures the view fetches (and counts) at most: `GET /captures`' own limit. */
const pageSize = 1000;

/** The service's calls the view makes (`api.ts`). */
export interface ReviewApi {
  unlabelled(limit: number): Promise<Outcome<Capture[]>>;
  labelledCount(limit: number): Promise<Outcome<number>>;
  captureImage(capture: Capture): Promise<Outcome<Blob>>;
  feedback(capture: Capture, label: string): Promise<Outcome<undefined>>;
}

/** The Review view, once wired: `open()` (re)loads the queue when the view is shown. */
export interface Review {
  open(): Promise<void>;
  /** Whether the view is showing (keys go to it). */
  active: boolean;
}

/** Wires the Review view of `index.html` to `api`; `failed` shows a failure (and signs out when it must). */
export function createReview(api: ReviewApi, failed: (failure: Failure | undefined) => void): Review {
  const ui = {
    counts: byId('review-counts'),
    status: byId('review-status'),
    item: byId('review-item'),
    photo: byId<HTMLImageElement>('review-photo'),
    choices: byId('review-choices'),
    undo: byId<HTMLButtonElement>('review-undo'),
  };
  let queue: Capture[] = [];
  let labelled = 0;
  /** Labels given in this visit, the latest last: what Undo brings back. */
  const done: { capture: Capture; label: string }[] = [];
  let sending = false;
  let photoUrl: string | undefined;

  const counts = (): void => {
    const more = (n: number): string => (n >= pageSize ? `${n}+` : String(n));
    ui.counts.textContent = `Labelled: ${more(labelled)} · To label: ${more(queue.length)}`;
  };

  const fail = (failure: Failure): void => {
    failed(failure);
    ui.status.textContent = failure.headline;
  };

  /** Shows the first capture of the queue, or says there is none; `note` goes before what to do. */
  async function current(note = ''): Promise<void> {
    ui.undo.disabled = done.length === 0;
    const capture = queue[0];
    if (!capture) {
      counts();
      show(ui.item, false);
      ui.status.textContent = note + (labelled > 0 || done.length > 0
        ? 'Nothing left to label. Photos given to the service from now on will appear here.'
        : 'Nothing to label: the service has kept no answer without a label yet.');
      return;
    }
    const image = await api.captureImage(capture);
    if (queue[0] !== capture) return;
    counts();
    if (!image.ok) return fail(fromProblem(image.problem));
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = URL.createObjectURL(image.value);
    ui.photo.src = photoUrl;
    showAnswer(
      { label: byId('review-label'), confidence: byId('review-confidence'), bars: byId('review-bars'), meta: byId('review-meta') },
      {
        prediction: { prediction: capture.prediction, values: capture.values, labels: capture.labels, model: capture.model_name ?? capture.model },
        roundTripMs: 0,
      },
    );
    byId('review-meta').textContent = `Model ${capture.model}, version ${capture.model_version} · ${new Date(capture.captured_at).toLocaleString('en')}`;
    ui.choices.replaceChildren(
      ...capture.labels.slice(0, 9).map((label, i) => {
        const button = h('button', { type: 'button', class: label === capture.prediction ? 'choice' : 'choice secondary', 'aria-keyshortcuts': String(i + 1) },
          h('kbd', {}, String(i + 1)), ` ${label}`);
        button.addEventListener('click', () => void choose(label));
        return button;
      }),
    );
    ui.status.textContent = `${note}What does this photo show? Press 1, 2 or 3, or choose below.`;
    ui.item.dataset.captureId = capture.id;
    show(ui.item, true);
  }

  async function choose(label: string): Promise<void> {
    const capture = queue[0];
    if (!capture || sending) return;
    sending = true;
    try {
      const outcome = await api.feedback(capture, label);
      if (!outcome.ok) return fail(fromProblem(outcome.problem));
      failed(undefined);
      queue.shift();
      // Labelled again after an undo: it was already counted.
      if (!done.some((d) => d.capture.id === capture.id)) labelled++;
      done.push({ capture, label });
      await current(`Labelled ${label}. `);
    } catch (error) {
      fail(fromError(error, 'the label was not sent'));
    } finally {
      sending = false;
    }
  }

  async function undo(): Promise<void> {
    const last = done.pop();
    if (!last || sending) return;
    // Still labelled last.label at the service until another label replaces it.
    queue.unshift(last.capture);
    labelled--;
    await current(`Undone: it stays labelled ${last.label} at the service until you choose again. `);
  }

  fitFrame(ui.photo);
  ui.undo.addEventListener('click', () => void undo());
  const review: Review = {
    active: false,
    async open() {
      done.length = 0;
      ui.status.textContent = 'Loading the answers to review…';
      try {
        const [unlabelled, count] = await Promise.all([api.unlabelled(pageSize), api.labelledCount(pageSize)]);
        if (!unlabelled.ok) return fail(fromProblem(unlabelled.problem));
        if (!count.ok) return fail(fromProblem(count.problem));
        queue = unlabelled.value;
        labelled = count.value;
        await current();
      } catch (error) {
        fail(fromError(error, 'the answers to review were not loaded'));
      }
    },
  };
  document.addEventListener('keydown', (event) => {
    if (!review.active || event.altKey || event.metaKey || event.repeat) return;
    if ((event.target as HTMLElement | null)?.closest('input, textarea, select')) return;
    if ((event.key === 'u' && !event.ctrlKey) || (event.key === 'z' && event.ctrlKey)) {
      event.preventDefault();
      void undo();
      return;
    }
    if (event.ctrlKey) return;
    const index = Number(event.key) - 1;
    const label = Number.isInteger(index) && index >= 0 ? queue[0]?.labels[index] : undefined;
    if (label === undefined) return;
    event.preventDefault();
    void choose(label);
  });
  return review;
}
