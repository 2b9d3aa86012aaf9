/**
 * Captures as the spec shows them: the `Capture` object, and a Label Studio task (its JSON
 * import format, with the answer as a pre-annotation: labelstud.io/guide/predictions).
 */
import type { components } from '../../../generated/openapi.js';
import type { CaptureView } from '../../capture/types.js';

type Capture = components['schemas']['Capture'];
type LabelStudioTask = components['schemas']['LabelStudioTasks'][number];

/** Where this service serves the image of capture `id`, relative to the service. */
const imagePath = (id: string): string => `/captures/${id}/image`;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The spec's `Capture` of `view`. */
export function captureBody(view: CaptureView): Capture {
  return {
    id: view.id,
    captured_at: iso(view.at),
    source: view.source,
    model: view.model,
    model_name: view.modelName,
    model_version: view.version,
    labels: [...view.labels],
    values: [...view.values],
    prediction: view.prediction,
    confidence: view.confidence,
    margin: view.margin,
    entropy: view.entropy,
    ...(view.elapsedMs === undefined ? {} : { elapsed_ms: view.elapsedMs }),
    ...(view.subject === undefined ? {} : { subject: view.subject }),
    ...(view.requestId === undefined ? {} : { request_id: view.requestId }),
    image: {
      sha256: view.image.sha256,
      bytes: view.image.bytes,
      ...(view.image.mediaType === undefined ? {} : { media_type: view.image.mediaType }),
      url: imagePath(view.id),
    },
    ...(view.feedback === undefined
      ? {}
      : {
        feedback: {
          label: view.feedback.label,
          at: iso(view.feedback.at),
          ...(view.feedback.subject === undefined ? {} : { subject: view.feedback.subject }),
        },
      }),
  };
}

/** Names of the Label Studio project's controls the task's pre-annotation fills. */
export interface LabelStudioNames {
  /** The `Choices` control (`choice` in Label Studio's image classification template). */
  readonly fromName: string;
  /** The `Image` object (`image`). */
  readonly toName: string;
}

/** The Label Studio task of `view`, its image at `baseUrl` + its path on this service. */
export function labelStudioTask(view: CaptureView, baseUrl: string, names: LabelStudioNames): LabelStudioTask {
  const score = view.values[view.labels.indexOf(view.prediction)] ?? view.confidence;
  return {
    data: { image: `${baseUrl.replace(/\/+$/, '')}${imagePath(view.id)}`, capture_id: view.id, model: view.model },
    predictions: [{
      model_version: view.version,
      score,
      result: [{ from_name: names.fromName, to_name: names.toName, type: 'choices', value: { choices: [view.prediction] } }],
    }],
  };
}
