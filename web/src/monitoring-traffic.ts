/**
 * The Monitoring view's traffic controls: the model's traffic now (`GET .../traffic`: the version
 * serving, the canary and its share, the shadow, whether each takes part), and the operator's
 * moves on a candidate (a loaded version other than the serving one): set a canary of a share,
 * shadow on or off, promote (`POST .../load` with the version: a pin), roll back (`POST .../unload`
 * of the version). Each move asks first in a modal dialog (Confirm, Cancel or Escape), then says
 * what the service answered: its problem's `detail` when it refused.
 *
 * The controls are built once and kept across the view's refreshes, so that a refresh neither
 * takes the focus nor resets a choice being made.
 */
import { h, show } from './dom.js';
import { Refusal, type createMonitoringApi, type TrafficSetting, type TrafficStatus } from './monitoring-api.js';

type Api = ReturnType<typeof createMonitoringApi>;

/** See the module comment. */
export interface TrafficControls {
  /** The section to place in the view. */
  readonly element: HTMLElement;
  /** Reads `name`'s traffic again; `loaded` are its loaded versions (from the evidence). */
  draw(name: string, loaded: readonly string[]): Promise<void>;
}

/**
 * Builds the controls; `changed` is called after a move the service accepted (the view then reads
 * the evidence again).
 */
export function createTrafficControls(api: Api, changed: () => void): TrafficControls {
  const now = h('p', { class: 'traffic-now' });
  const candidate = h('select', { id: 'traffic-version' }) as HTMLSelectElement;
  const share = h('input', { id: 'traffic-percent', type: 'number', min: 0, max: 100, step: 1, value: 10, inputmode: 'numeric' }) as HTMLInputElement;
  const button = (text: string, secondary = false): HTMLButtonElement => h('button', { type: 'button', ...(secondary ? { class: 'secondary' } : {}) }, text) as HTMLButtonElement;
  const setCanary = button('Set canary');
  const endCanary = button('End canary', true);
  const shadowOn = button('Shadow on');
  const shadowOff = button('Shadow off', true);
  const promote = button('Promote');
  const rollBack = button('Roll back', true);
  const outcome = h('p', { class: 'traffic-outcome', role: 'status' });
  const noCandidate = h('p', { class: 'traffic-none' }, 'No candidate: only the serving version is loaded.');
  const moves = h(
    'div',
    { class: 'traffic-moves' },
    h('div', { class: 'traffic-fields' },
      h('label', { for: 'traffic-version' }, 'Candidate version'), candidate,
      h('label', { for: 'traffic-percent' }, 'Canary share (%)'), share),
    h('div', { class: 'traffic-buttons' }, setCanary, endCanary, shadowOn, shadowOff, promote, rollBack),
  );
  const question = h('p', { id: 'traffic-confirm-text' });
  const confirm = button('Confirm');
  const cancel = button('Cancel', true);
  const dialog = h('dialog', { class: 'traffic-confirm', 'aria-labelledby': 'traffic-confirm-title', 'aria-describedby': 'traffic-confirm-text' },
    h('h4', { id: 'traffic-confirm-title' }, 'Change the traffic?'), question, h('div', { class: 'traffic-buttons' }, cancel, confirm)) as HTMLDialogElement;
  const element = h('section', { class: 'traffic', 'aria-labelledby': 'traffic-title' },
    h('h3', { id: 'traffic-title' }, 'Traffic'), now, noCandidate, moves, outcome, dialog);

  show(moves, false);
  show(noCandidate, false);
  let model = '';
  let current: TrafficStatus | undefined;
  let pending: { readonly run: () => Promise<string>; readonly from: HTMLElement } | undefined;
  let lastLoaded: readonly string[] = [];
  /**
   * Counts the moves' starts and ends (odd while one is under way), so that a reading of the traffic
   * that overlapped a move is dropped: it may predate the move, and the move's own answer is newer.
   */
  let moveEdges = 0;
  /** The models whose traffic the service does not let anyone change (`MODEL_CONTROL=none`): not asked again. */
  const fixed = new Set<string>();

  const describe = (t: TrafficStatus): string => {
    const serving = t.serving === undefined ? 'no version serves' : `version ${t.serving} serves`;
    const canary = t.canary === null ? 'no canary' : `canary version ${t.canary.version} at ${t.canary.percent} %${t.active.canary ? '' : ' (inactive: not ready)'}`;
    const shadow = t.shadow === null ? 'no shadow' : `shadow version ${t.shadow.version}${t.active.shadow ? '' : ' (inactive: not ready)'}`;
    return `Now ${serving}; ${canary}; ${shadow}.`;
  };

  const render = (loaded: readonly string[]): void => {
    if (!current) return;
    now.textContent = describe(current);
    const candidates = loaded.filter((v) => v !== current?.serving);
    const shown = [...candidate.options].map((o) => o.value);
    if (shown.join(' ') !== candidates.join(' ')) {
      const previous = candidate.value;
      const preferred = current.canary?.version ?? current.shadow?.version ?? candidates[candidates.length - 1];
      candidate.replaceChildren(...candidates.map((v) => h('option', { value: v }, `Version ${v}`)));
      candidate.value = candidates.includes(previous) ? previous : preferred ?? '';
    }
    show(moves, candidates.length > 0);
    show(noCandidate, candidates.length === 0);
    endCanary.disabled = current.canary === null;
    shadowOff.disabled = current.shadow === null;
  };

  async function draw(name: string, loaded: readonly string[]): Promise<void> {
    if (name !== model) {
      model = name;
      outcome.textContent = '';
    }
    lastLoaded = loaded;
    if (fixed.has(name)) return;
    try {
      const before = moveEdges;
      const t = await api.traffic(name);
      if (name !== model || before !== moveEdges || before % 2 === 1) return;
      current = t;
      render(loaded);
    } catch (error) {
      if (error instanceof Refusal && error.code === 'model-control-disabled') {
        fixed.add(name);
        current = undefined;
        show(moves, false);
        show(noCandidate, false);
        now.textContent = `No traffic controls: ${message(error)}`;
        return;
      }
      now.textContent = `The traffic cannot be read now: ${message(error)}`;
    }
  }

  /** Asks `text`; on Confirm runs `run`, whose result (or refusal) is shown. */
  const ask = (from: HTMLElement, text: string, run: () => Promise<string>): void => {
    question.textContent = text;
    pending = { run, from };
    dialog.showModal();
    confirm.focus();
  };
  const setting = (change: Partial<TrafficSetting>): TrafficSetting => ({ canary: current?.canary ?? null, shadow: current?.shadow ?? null, ...change });
  const put = async (change: Partial<TrafficSetting>, done: string): Promise<string> => {
    current = await api.setTraffic(model, setting(change));
    render(lastLoaded);
    return done;
  };

  setCanary.addEventListener('click', () => {
    const version = candidate.value;
    const percent = share.valueAsNumber;
    ask(setCanary, `Send ${Number.isFinite(percent) ? percent : share.value} % of the clients to version ${version} of ${model}?`,
      () => put({ canary: { version, percent: Number.isFinite(percent) ? percent : Number.NaN } }, `Canary set: version ${version} answers ${percent} % of the clients.`));
  });
  endCanary.addEventListener('click', () => {
    ask(endCanary, `End the canary of ${model}? The serving version answers everyone.`, () => put({ canary: null }, 'Canary ended.'));
  });
  shadowOn.addEventListener('click', () => {
    const version = candidate.value;
    ask(shadowOn, `Let version ${version} of ${model} classify in the shadow of the serving version?`, () => put({ shadow: { version } }, `Shadow on: version ${version}.`));
  });
  shadowOff.addEventListener('click', () => {
    ask(shadowOff, `Stop the shadow of ${model}?`, () => put({ shadow: null }, 'Shadow off.'));
  });
  promote.addEventListener('click', () => {
    const version = candidate.value;
    ask(promote, `Promote version ${version} of ${model}? It is pinned and answers everyone; its canary and shadow end.`, async () => {
      await api.promote(model, version);
      return `Version ${version} promoted: it serves everyone.`;
    });
  });
  rollBack.addEventListener('click', () => {
    const version = candidate.value;
    ask(rollBack, `Roll back version ${version} of ${model}? It is unloaded; its canary and shadow end.`, async () => {
      await api.rollBack(model, version);
      return `Version ${version} rolled back (unloaded).`;
    });
  });

  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    // The event comes a task after the dialog closed: a question asked again in between (Escape, then
    // Enter at once) has reopened it, and is not to be forgotten.
    if (dialog.open) return;
    const from = pending?.from;
    pending = undefined;
    from?.focus();
  });
  confirm.addEventListener('click', () => {
    const move = pending;
    if (!move) return;
    dialog.close();
    outcome.classList.remove('refused');
    outcome.textContent = 'Asking the service…';
    moveEdges += 1;
    void move.run().finally(() => { moveEdges += 1; }).then(
      (text) => {
        outcome.textContent = text;
        changed();
      },
      (error: unknown) => {
        outcome.classList.add('refused');
        outcome.textContent = `Refused: ${message(error)}`;
      },
    );
  });

  return { element, draw };
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
