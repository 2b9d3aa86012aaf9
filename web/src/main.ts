/**
 * The web page served at `GET /`: drop a photo, see the answer and where it comes from. Wires
 * the sign-in (`auth.ts`), the ways a photo arrives (`input.ts`), the service's calls (`api.ts`)
 * and what is shown (`result.ts`, `heatmap.ts`, `problem.ts`); the Review view (`review.ts`) for
 * those who may label the service's captured answers.
 */
import { createApi, type Answer } from './api.js';
import { startAuth, type Auth } from './auth.js';
import { byId, fitFrame, show } from './dom.js';
import { drawHeatmap } from './heatmap.js';
import { acceptPhotos, type Photo } from './input.js';
import { createMonitoring } from './monitoring.js';
import { fromError, fromProblem, type Failure } from './problem.js';
import { showAnswer } from './result.js';
import { createReview } from './review.js';

const ui = {
  status: byId('status'),
  user: byId('user'),
  signIn: byId<HTMLButtonElement>('sign-in'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  pick: byId<HTMLButtonElement>('pick'),
  take: byId<HTMLButtonElement>('take'),
  error: byId('error'),
  result: byId('result'),
  photo: byId<HTMLImageElement>('photo'),
  heatmap: byId<HTMLCanvasElement>('heatmap'),
  heatmapControls: byId('heatmap-controls'),
  heatmapToggle: byId<HTMLInputElement>('show-heatmap'),
  heatmapStatus: byId('heatmap-status'),
  crop: byId('crop'),
  answer: byId('answer'),
  working: byId('working'),
  signInNeeded: byId('sign-in-needed'),
  signInNotice: byId<HTMLButtonElement>('sign-in-notice'),
  views: byId('views'),
  viewClassify: byId<HTMLButtonElement>('view-classify'),
  viewReview: byId<HTMLButtonElement>('view-review'),
  classifyView: byId('classify-view'),
  review: byId('review'),
};

let auth: Auth = { kind: 'none' };
let busy = false;
const api = createApi(() => (auth.kind === 'oauth' ? auth.session.token() : undefined));
// The Monitoring view (monitoring.ts), offered to tokens with manage::models.
const monitoring = createMonitoring(
  { toggle: byId<HTMLButtonElement>('monitoring-toggle'), section: byId('monitoring') },
  () => (auth.kind === 'oauth' ? auth.session.token() : undefined),
);

/** Whether a photo may be sent now. */
function ready(): boolean {
  if (busy) return false;
  return auth.kind === 'none' || (auth.kind === 'oauth' && auth.session.token() !== undefined);
}

/** The scopes the Review view needs: reading the captures and labelling them. */
const reviewScopes = ['read::captures', 'post::feedback'];

/** Whether the Review view is offered: signed in with its scopes, or no sign-in needed. */
function canReview(): boolean {
  if (auth.kind === 'none') return true;
  const granted = auth.kind === 'oauth' && auth.session.token() !== undefined ? auth.session.current?.scopes ?? [] : [];
  return reviewScopes.every((scope) => granted.includes(scope));
}

/** Shows the Classify view or the Review view. */
function showView(reviewing: boolean): void {
  review.active = reviewing;
  showFailure(undefined);
  show(ui.classifyView, !reviewing);
  show(ui.review, reviewing);
  ui.viewClassify.setAttribute('aria-pressed', String(!reviewing));
  ui.viewReview.setAttribute('aria-pressed', String(reviewing));
  if (reviewing) void review.open();
}

/** Shows who is signed in, the sign-in / sign-out buttons, and whether photos are welcome. */
function render(): void {
  const signedIn = auth.kind === 'oauth' && auth.session.token() !== undefined;
  const user = auth.kind === 'oauth' ? auth.session.current?.user : undefined;
  ui.user.textContent = signedIn ? `Signed in${user ? ` as ${user}` : ''}` : '';
  show(ui.signIn, auth.kind === 'oauth' && !signedIn);
  show(ui.signOut, signedIn);
  if (signedIn || auth.kind !== 'oauth') show(ui.signInNeeded, false);
  show(ui.views, canReview());
  if (!canReview() && review.active) showView(false);
  // Not disabled while busy: a focused button that becomes disabled loses the keyboard focus.
  ui.pick.disabled = ui.take.disabled = !(auth.kind === 'none' || signedIn);
  if (busy) ui.status.textContent = 'Classifying your photo…';
  else if (auth.kind === 'unavailable') ui.status.textContent = auth.reason;
  else if (auth.kind === 'oauth' && !signedIn) ui.status.textContent = 'Sign in to classify photos.';
  else ui.status.textContent = 'Give me a photo of a cat, a dog, or anything else.';
  monitoring.update(auth.kind === 'none' || signedIn);
}

function showFailure(failure: Failure | undefined): void {
  show(ui.error, failure !== undefined);
  if (!failure) return;
  byId('error-headline').textContent = failure.headline;
  byId('error-detail').textContent = failure.detail;
  byId('error-reference').textContent = failure.reference ?? '';
  if (failure.signInAgain && auth.kind === 'oauth') auth.session.forget();
}

let photoUrl: string | undefined;

async function classify(photo: Photo): Promise<void> {
  explaining?.abort();
  busy = true;
  showFailure(undefined);
  render();
  // The photo at once, and a spinner where the answer will be.
  show(ui.heatmap, false);
  show(ui.crop, false);
  show(ui.heatmapControls, false);
  showPhoto(photo);
  ui.answer.classList.add('busy');
  show(ui.working, true);
  show(ui.result, true);
  ui.result.setAttribute('aria-busy', 'true');
  try {
    const outcome = await api.classify(photo.blob, photo.name);
    if (!outcome.ok) {
      show(ui.result, false);
      showFailure(fromProblem(outcome.problem));
      return;
    }
    ui.answer.classList.remove('busy');
    show(ui.working, false);
    showResult(outcome.value);
    void explain(photo);
    revealAnswer();
  } catch (error) {
    show(ui.result, false);
    showFailure(fromError(error, 'the photo was not sent'));
  } finally {
    busy = false;
    ui.answer.classList.remove('busy');
    show(ui.working, false);
    ui.result.removeAttribute('aria-busy');
    render();
  }
}

function showPhoto(photo: Photo): void {
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(photo.blob);
  ui.photo.src = photoUrl;
}

function showResult(answer: Answer): void {
  showAnswer(
    { label: byId('label'), confidence: byId('confidence'), bars: byId('bars'), meta: byId('meta') },
    answer,
  );
  show(ui.result, true);
}

/**
 * Scrolls the answer into view when it is not: on a phone it is below the photo (and the
 * heatmap's controls), often below the fold. Again once the photo has loaded, which moves it.
 */
function revealAnswer(): void {
  const reveal = (): void => {
    const box = ui.answer.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) ui.answer.scrollIntoView({ block: 'start' });
  };
  reveal();
  if (!ui.photo.complete) ui.photo.addEventListener('load', () => requestAnimationFrame(reveal), { once: true });
}

/** The explanation being worked out, cancelled when another photo comes. */
let explaining: AbortController | undefined;

/** Asks where the answer comes from and lays the heatmap over the photo. */
async function explain(photo: Photo): Promise<void> {
  explaining?.abort();
  const current = (explaining = new AbortController());
  show(ui.heatmap, false);
  show(ui.heatmapControls, true);
  ui.heatmapToggle.disabled = true;
  ui.heatmapStatus.textContent = 'Working out where the model looked…';
  try {
    const outcome = await api.explain(photo.blob, photo.name, current.signal);
    if (current.signal.aborted) return;
    if (!outcome.ok) {
      // The answer stands; only its explanation is missing.
      ui.heatmapStatus.textContent = `Where the model looked is not available: ${fromProblem(outcome.problem).headline}.`;
      return;
    }
    drawHeatmap(ui.heatmap, ui.photo, outcome.value.heatmap, ui.crop);
    ui.heatmapToggle.disabled = false;
    show(ui.heatmap, ui.heatmapToggle.checked);
    show(ui.crop, ui.heatmapToggle.checked && ui.crop.dataset.partial === 'true');
    ui.heatmapStatus.textContent = ui.crop.dataset.partial !== 'true'
      ? 'Red: hiding this part lowers the answer most.'
      : 'Red: hiding this part lowers the answer most. The model sees only the centre square (dashed).';
  } catch {
    if (!current.signal.aborted) ui.heatmapStatus.textContent = 'Where the model looked is not available: the service cannot be reached.';
  }
}

/**
 * Whether a photo given now may be sent; when signing in is what is missing, says so and offers
 * it instead of ignoring the photo.
 */
function welcome(): boolean {
  if (ready()) {
    if (review.active) showView(false);
    return true;
  }
  // A token that expired while the page sat idle, too.
  render();
  if (auth.kind === 'oauth' && auth.session.token() === undefined) {
    show(ui.signInNeeded, true);
    ui.signInNotice.focus();
  }
  return false;
}

/** An example photo of the page's own (resources/samples/), as if the person had given it. */
async function example(button: HTMLElement): Promise<void> {
  if (!welcome()) return;
  try {
    const response = await fetch(button.dataset.src ?? '');
    if (!response.ok) throw new Error(`${button.dataset.src ?? ''} answered HTTP ${response.status}`);
    await classify({ blob: await response.blob(), name: button.dataset.name ?? 'example' });
  } catch (error) {
    showFailure(fromError(error, 'the example was not loaded'));
  }
}

const review = createReview(api, (failure) => showFailure(failure));

async function start(): Promise<void> {
  ui.heatmapToggle.addEventListener('change', () => {
    show(ui.heatmap, ui.heatmapToggle.checked);
    show(ui.crop, ui.heatmapToggle.checked && ui.crop.dataset.partial === 'true');
  });
  fitFrame(ui.photo);
  acceptPhotos(
    { dropZone: byId('drop'), picker: byId('picker'), pickButton: ui.pick, camera: byId('camera'), cameraButton: ui.take },
    welcome,
    (photo) => void classify(photo),
  );
  for (const button of document.querySelectorAll<HTMLElement>('.example')) button.addEventListener('click', () => void example(button));
  ui.viewClassify.addEventListener('click', () => showView(false));
  ui.viewReview.addEventListener('click', () => showView(true));
  for (const button of [ui.signIn, ui.signInNotice]) {
    button.addEventListener('click', () => {
      if (auth.kind === 'oauth') void auth.session.signIn();
    });
  }
  ui.signOut.addEventListener('click', () => {
    if (auth.kind !== 'oauth') return;
    explaining?.abort();
    auth.session.signOut();
    show(ui.result, false);
    render();
  });
  try {
    auth = await startAuth((await api.uiConfig()).auth);
  } catch (error) {
    auth = { kind: 'unavailable', reason: 'Sign-in is not possible right now.' };
    showFailure({ headline: 'Signing in failed', detail: error instanceof Error ? error.message : String(error) });
  }
  render();
}

void start();
