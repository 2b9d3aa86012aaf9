/**
 * A Label Studio task as this backend reads it: the capture it is kept under, and its image,
 * fetched from Label Studio and classified by the inference core.
 */
import type { InferenceCore } from '../../inference/core.js';
import { INFERENCE_ID } from '../../inference/capture.js';
import { TaskImageRefused } from '../../errors.js';
import type { ChoicesControl } from './label-config.js';
import type { LabelStudioConnection } from './connection.js';
import { fetchTaskImage, imageUrl, type FetchLimits } from './task-image.js';

/** A task as Label Studio sends it (the spec has checked its shape). */
export interface Task {
  readonly id: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * The capture a task is kept under: the `capture_id` of a task imported from `GET
 * /captures?format=label-studio`, otherwise `label-studio.<project>.<task>`.
 */
export function captureIdOf(project: string | number | undefined, task: Task): string {
  const imported = task.data.capture_id;
  if (typeof imported === 'string' && INFERENCE_ID.test(imported)) return imported;
  // `project` is `<id>.<created at>` in predict and setup, the id in the webhook.
  const projectId = /^\d{1,20}/.exec(String(project ?? ''))?.[0] ?? '0';
  return `label-studio.${projectId}.${task.id}`;
}

/** What reading and classifying a task takes. */
export interface TaskReader {
  readonly core: InferenceCore;
  readonly connection: LabelStudioConnection;
  readonly limits: FetchLimits;
}

/** The image of `task` (its `data[control.dataKey]`), from Label Studio. */
export async function taskImage(reader: TaskReader, control: ChoicesControl | undefined, task: Task): Promise<Uint8Array> {
  if (control === undefined) {
    throw new TaskImageRefused('The label config has no <Choices> whose toName names an <Image value="$key">');
  }
  const host = reader.connection.current();
  const url = imageUrl(task.id, task.data[control.dataKey], host);
  return fetchTaskImage(task.id, url, host!, reader.limits);
}
