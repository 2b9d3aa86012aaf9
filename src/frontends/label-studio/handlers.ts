/**
 * The Label Studio ML backend's operations, as Label Studio calls them (its `label-studio-ml`
 * API): `GET health`, `POST setup`, `POST predict` (`{"results": [...]}`, one prediction per task,
 * in order) and `POST webhook` (annotations become feedback on captures). The spec has checked
 * each body before a handler runs.
 */
import type { operations } from '../../../generated/openapi.js';
import { callerSubject } from '../../auth/security-handler.js';
import type { CaptureStore } from '../../capture/types.js';
import { CaptureUnavailable, UnknownLabel } from '../../errors.js';
import { whileConnected } from '../../http/client-gone.js';
import type { AppContext } from '../../http/context.js';
import type { OperationHandler } from '../../http/operation.js';
import type { CallOptions } from '../../inference/core.js';
import type { CaptureSink } from '../../inference/capture.js';
import { choiceFor, choicesControl, type ChoicesControl } from './label-config.js';
import { captureIdOf, taskImage, type Task, type TaskReader } from './tasks.js';

type SetupBody = operations['labelStudioSetup']['requestBody']['content']['application/json'];
type PredictBody = operations['labelStudioPredict']['requestBody']['content']['application/json'];
type WebhookBody = operations['labelStudioWebhook']['requestBody']['content']['application/json'];
type Prediction = operations['labelStudioPredict']['responses']['200']['content']['application/json']['results'][number];

/** What the handlers are built from. */
export interface HandlerDeps extends TaskReader {
  readonly store: CaptureStore | undefined;
  /** Where a task the service had not seen is captured (not sampled: it is to be labelled). */
  readonly sink: CaptureSink | undefined;
  /** How long the webhook waits for a new capture to be written, in milliseconds. */
  readonly captureWaitMs: number;
}

/** The events whose annotation is feedback; Label Studio's `label-studio-ml` also sends START_TRAINING. */
const ANNOTATION_EVENTS = new Set(['ANNOTATION_CREATED', 'ANNOTATION_UPDATED', 'ANNOTATION_DELETED']);

/** The core's options for a call made for this request. */
async function callOptions(c: Parameters<OperationHandler>[0], ctx: AppContext, capture: boolean): Promise<CallOptions> {
  const { client } = ctx.state;
  return {
    ...(client === undefined ? {} : { client }),
    origin: { source: 'label-studio', subject: await callerSubject(c), requestId: ctx.state.requestId },
    capture,
    onModel: (model) => (ctx.state.model = { name: model.name, version: model.version }),
  };
}

/** `GET /label-studio/health`. */
export function health(): OperationHandler {
  return (_c, ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'UP', model_class: 'CatDogOther' };
  };
}

/** `POST /label-studio/setup`: keeps Label Studio's host and key; answers the version predictions will carry. */
export function setup(deps: HandlerDeps): OperationHandler {
  return (c, ctx) => {
    const body = c.request.requestBody as SetupBody;
    deps.connection.setup(body.hostname, body.access_token);
    ctx.body = { model_version: deps.core.describe({}).version };
  };
}

/** The prediction of a task's classification, in the project's names. */
function predictionOf(control: ChoicesControl, label: string, score: number, version: string): Prediction {
  return {
    model_version: version,
    score,
    result: [{ from_name: control.fromName, to_name: control.toName, type: 'choices', value: { choices: [choiceFor(control, label)] } }],
  };
}

/** `POST /label-studio/predict`: one prediction per task, in order; the first task that fails fails the request. */
export function predict(deps: HandlerDeps): OperationHandler {
  return async (c, ctx: AppContext) => {
    const body = c.request.requestBody as PredictBody;
    const control = choicesControl(body.label_config);
    const options = await callOptions(c, ctx, true);
    const results: Prediction[] = [];
    // One task at a time: one image in memory, and the core's gates see one client's turn.
    for (const task of body.tasks as Task[]) {
      const image = await taskImage(deps, control, task);
      const { result, model } = await whileConnected(ctx, (signal) =>
        deps.core.classify({}, image, { ...options, signal, id: captureIdOf(body.project, task) }));
      const score = result.values[result.labels.indexOf(result.prediction)] ?? 0;
      results.push(predictionOf(control!, result.prediction, score, model.version));
    }
    ctx.body = { results };
  };
}

/** The label an annotation gives: its first `choices` result, from the project's control when known. */
function annotatedLabel(annotation: WebhookBody['annotation'], control: ChoicesControl | undefined): string | undefined {
  if (!annotation || annotation.was_cancelled === true) return undefined;
  const choices = (annotation.result ?? []).filter((r) => r.type === 'choices' && (r.value?.choices?.length ?? 0) > 0);
  const chosen = choices.find((r) => control === undefined || r.from_name === control.fromName) ?? choices[0];
  return chosen?.value?.choices?.[0];
}

/** The store, once checked to be there and usable. */
function usable(store: CaptureStore | undefined): CaptureStore {
  if (!store) throw new CaptureUnavailable('Capture is off (CAPTURE_SAMPLE_RATE=0) and CAPTURE_DIR holds no captures');
  const availability = store.availability();
  if (!availability.available) throw new CaptureUnavailable(availability.reason);
  return store;
}

/** `POST /label-studio/webhook`: an annotation's label becomes the feedback of its task's capture. */
export function webhook(deps: HandlerDeps): OperationHandler {
  return async (c, ctx: AppContext) => {
    const body = c.request.requestBody as WebhookBody;
    if (!ANNOTATION_EVENTS.has(body.action)) {
      ctx.status = 200;
      ctx.body = { status: 'Unknown event' };
      return;
    }
    const control = body.project?.label_config === undefined ? undefined : choicesControl(body.project.label_config);
    const label = annotatedLabel(body.annotation, control);
    // A deleted annotation leaves the latest label as it is: the store keeps no history to go back to.
    if (body.action === 'ANNOTATION_DELETED' || body.task === undefined || label === undefined) {
      ctx.status = 201;
      ctx.body = { status: 'ok' };
      return;
    }
    const store = usable(deps.store);
    const task = body.task as Task;
    const id = captureIdOf(body.project?.id, task);
    const subject = await callerSubject(c);
    let outcome = await store.feedback(id, label, subject);
    if (outcome.kind === 'not-found') {
      await captureTask(deps, store, control, task, id, await callOptions(c, ctx, false), ctx);
      outcome = await store.feedback(id, label, subject);
    }
    if (outcome.kind === 'not-found') throw new CaptureUnavailable(`The capture of task ${task.id} was not written in time; retry`);
    if (outcome.kind === 'unknown-label') throw new UnknownLabel({ name: outcome.model, version: outcome.version }, label, outcome.labels);
    ctx.state.prediction = outcome.label;
    ctx.status = 201;
    ctx.body = { status: 'ok', result: { capture_id: id, label: outcome.label } };
  };
}

/** Classifies a task the service had not seen and captures it under `id`, waiting until it is written. */
async function captureTask(
  deps: HandlerDeps,
  store: CaptureStore,
  control: ChoicesControl | undefined,
  task: Task,
  id: string,
  options: CallOptions,
  ctx: AppContext,
): Promise<void> {
  const { sink } = deps;
  if (!sink) throw new CaptureUnavailable('Capture is off (CAPTURE_SAMPLE_RATE=0): a task the service had not seen cannot be captured');
  const image = await taskImage(deps, control, task);
  const { result, model, elapsedMs } = await whileConnected(ctx, (signal) => deps.core.classify({}, image, { ...options, signal, id }));
  sink.offer([{
    id,
    at: Date.now(),
    origin: options.origin!,
    model: model.name,
    modelName: model.modelName,
    version: model.version,
    labels: result.labels,
    values: result.values,
    prediction: result.prediction,
    elapsedMs,
    image,
  }]);
  // The writer commits off the request path, within milliseconds.
  const deadline = Date.now() + deps.captureWaitMs;
  while (Date.now() < deadline) {
    if (await store.get(id)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
