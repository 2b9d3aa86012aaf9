/**
 * The web page served at `GET /`: drop a photo, see the answer and where it comes from. Wires
 * the sign-in (`auth.ts`), the ways a photo arrives (`input.ts`), the service's calls (`api.ts`)
 * and what is shown (`result.ts`, `heatmap.ts`, `problem.ts`).
 */
import { createApi, type Answer } from './api.js';
import { startAuth, type Auth } from './auth.js';
import { byId, show } from './dom.js';
import { drawHeatmap } from './heatmap.js';
import { acceptPhotos, type Photo } from './input.js';
import { createMonitoring } from './monitoring.js';
import { fromError, fromProblem, type Failure } from './problem.js';
import { showAnswer } from './result.js';

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

/** Shows who is signed in, the sign-in / sign-out buttons, and whether photos are welcome. */
function render(): void {
  const signedIn = auth.kind === 'oauth' && auth.session.token() !== undefined;
  const user = auth.kind === 'oauth' ? auth.session.current?.user : undefined;
  ui.user.textContent = signedIn ? `Signed in${user ? ` as ${user}` : ''}` : '';
  show(ui.signIn, auth.kind === 'oauth' && !signedIn);
  show(ui.signOut, signedIn);
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
  ui.result.setAttribute('aria-busy', 'true');
  try {
    const outcome = await api.classify(photo.blob, photo.name);
    if (!outcome.ok) {
      show(ui.result, false);
      showFailure(fromProblem(outcome.problem));
      return;
    }
    showPhoto(photo);
    showResult(outcome.value);
    void explain(photo);
  } catch (error) {
    showFailure(fromError(error, 'the photo was not sent'));
  } finally {
    busy = false;
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
    drawHeatmap(ui.heatmap, ui.photo, outcome.value.heatmap);
    ui.heatmapToggle.disabled = false;
    show(ui.heatmap, ui.heatmapToggle.checked);
    ui.heatmapStatus.textContent = 'Red: hiding this part lowers the answer most.';
  } catch {
    if (!current.signal.aborted) ui.heatmapStatus.textContent = 'Where the model looked is not available: the service cannot be reached.';
  }
}

async function start(): Promise<void> {
  ui.heatmapToggle.addEventListener('change', () => show(ui.heatmap, ui.heatmapToggle.checked));
  acceptPhotos(
    { dropZone: byId('drop'), picker: byId('picker'), pickButton: ui.pick, camera: byId('camera'), cameraButton: ui.take },
    () => {
      // A token that expired while the page sat idle: say so instead of ignoring the photo.
      if (!ready()) render();
      return ready();
    },
    (photo) => void classify(photo),
  );
  ui.signIn.addEventListener('click', () => {
    if (auth.kind === 'oauth') void auth.session.signIn();
  });
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
