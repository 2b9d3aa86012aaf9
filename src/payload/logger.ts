/**
 * The payload logger: sends every exchange the front-ends offer (`PayloadSink`) to
 * `PAYLOAD_LOGGER_URL` as CloudEvents (`cloud-event.ts`), off the request path.
 *
 * `offer` builds the events the mode asks for and queues them; a queue over its bound (events or
 * bytes) drops the new event. A few senders take the queue in order; an event the receiver does
 * not take (a network error, a timeout, a 408, 429 or 5xx) is tried again after a growing,
 * jittered back-off, up to `retries` times, then dropped. Another 4xx is dropped at once (the
 * receiver refuses that event: sending it again would not help). Every event ends counted, by
 * outcome, for `catdog_payload_events_total`.
 *
 * An answer never waits for an event nor fails because of one: `offer` returns at once and
 * catches everything.
 */
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { PayloadSink } from '../inference/payload.js';
import type { Logger } from '../log.js';
import { payloadEvent, type EventNames, type PayloadEvent, type PayloadEventKind } from './cloud-event.js';

/** Which events are sent: KServe's logger modes. */
export type PayloadLoggerMode = 'all' | 'request' | 'response';

/** The `PAYLOAD_LOGGER_*` settings; `url` undefined: no logger. */
export interface PayloadLoggerSettings {
  /** Where events are POSTed (a Knative broker's ingress, a Kafka bridge, any CloudEvents receiver). */
  readonly url: string | undefined;
  readonly mode: PayloadLoggerMode;
  /** `ce-source`; `undefined`: `urn:catdog-classifier:<host name>`, one per replica. */
  readonly source: string | undefined;
  /** `ce-inferenceservicename`; `undefined`: the model's name in the repository. */
  readonly inferenceService: string | undefined;
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
  /** Most events waiting to be sent. */
  readonly queueEvents: number;
  /** Most bytes of event bodies waiting to be sent. */
  readonly queueBytes: number;
  /** Events being sent at once. */
  readonly concurrency: number;
  /** Longest wait for the receiver's answer to one attempt, in milliseconds. */
  readonly timeoutMs: number;
  /** Attempts after the first before an event is dropped. */
  readonly retries: number;
  /** The first back-off, in milliseconds; it doubles at each retry (with full jitter). */
  readonly backoffMs: number;
}

/** What became of an event. */
export type PayloadOutcome = 'sent' | 'dropped-queue-full' | 'dropped-rejected' | 'dropped-undeliverable' | 'dropped-shutdown';

/** What the metrics read. */
export interface PayloadLoggerStats {
  /** Events by type and outcome since start-up. */
  readonly outcomes: ReadonlyMap<`${PayloadEventKind}:${PayloadOutcome}`, number>;
  /** Events waiting or being sent now. */
  readonly pending: number;
  /** Bytes of their bodies. */
  readonly pendingBytes: number;
}

/** The payload logger of a running service. */
export interface PayloadLogger {
  readonly sink: PayloadSink;
  stats(): PayloadLoggerStats;
  /** Lets the events in hand go for up to `graceMs`, then aborts the rest (counted `dropped-shutdown`). */
  close(graceMs?: number): Promise<void>;
}

/** Whether the receiver's status says the same event may be taken later. */
const retriable = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/** Creates the logger `settings` describe (its `url` set). */
function createPayloadLogger(settings: PayloadLoggerSettings & { readonly url: string }, log: Logger): PayloadLogger {
  const names: EventNames = {
    source: settings.source ?? `urn:catdog-classifier:${hostname()}`,
    inferenceService: settings.inferenceService,
    namespace: settings.namespace,
    component: settings.component,
    endpoint: settings.endpoint,
  };
  const kinds: readonly PayloadEventKind[] = settings.mode === 'all' ? ['request', 'response'] : [settings.mode];
  const outcomes = new Map<`${PayloadEventKind}:${PayloadOutcome}`, number>();
  const count = (kind: PayloadEventKind, outcome: PayloadOutcome): void => {
    const key = `${kind}:${outcome}` as const;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  };
  const queue: PayloadEvent[] = [];
  let queuedBytes = 0;
  let sending = 0;
  let sendingBytes = 0;
  let closed = false;
  /** Aborts every attempt and back-off at the end of the shutdown grace period. */
  const stopping = new AbortController();
  let idle: (() => void) | undefined;
  // One warning per minute at most: a receiver that is down would otherwise flood the log.
  let warnedAt = 0;
  const warn = (event: PayloadEvent, outcome: PayloadOutcome, reason: string): void => {
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    log.warn({ url: settings.url, id: event.id, type: event.kind, outcome, reason }, 'payload event dropped (further drops counted in catdog_payload_events_total, not logged for a minute)');
  };

  /** One attempt: `undefined` when sent, else whether to try again and why not. */
  async function attempt(event: PayloadEvent): Promise<{ retry: boolean; reason: string } | undefined> {
    try {
      const res = await fetch(settings.url, {
        method: 'POST',
        headers: event.headers,
        body: event.body,
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(settings.timeoutMs)]),
      });
      // The body is not read: let the connection go back to the pool.
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return undefined;
      return { retry: retriable(res.status), reason: `HTTP ${res.status}` };
    } catch (err) {
      return { retry: true, reason: (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message) };
    }
  }

  async function deliver(event: PayloadEvent): Promise<void> {
    for (let tries = 0; ; tries++) {
      const failed = await attempt(event);
      if (!failed) return count(event.kind, 'sent');
      if (stopping.signal.aborted) return count(event.kind, 'dropped-shutdown');
      if (!failed.retry || tries >= settings.retries) {
        const outcome = failed.retry ? 'dropped-undeliverable' : 'dropped-rejected';
        warn(event, outcome, failed.reason);
        return count(event.kind, outcome);
      }
      const backoff = Math.random() * settings.backoffMs * 2 ** tries;
      await delay(backoff, undefined, { signal: stopping.signal }).catch(() => undefined);
      if (stopping.signal.aborted) return count(event.kind, 'dropped-shutdown');
    }
  }

  /** Starts senders while there is work and room for them. */
  function pump(): void {
    while (sending < settings.concurrency && queue.length > 0) {
      const event = queue.shift()!;
      queuedBytes -= event.bytes;
      sending++;
      sendingBytes += event.bytes;
      void deliver(event).finally(() => {
        sending--;
        sendingBytes -= event.bytes;
        pump();
        if (sending === 0 && queue.length === 0) idle?.();
      });
    }
  }

  function enqueue(event: PayloadEvent): void {
    if (closed || queue.length >= settings.queueEvents || queuedBytes + event.bytes > settings.queueBytes) {
      count(event.kind, closed ? 'dropped-shutdown' : 'dropped-queue-full');
      return;
    }
    queue.push(event);
    queuedBytes += event.bytes;
    pump();
  }

  const sink: PayloadSink = {
    offer(exchange) {
      const at = Date.now();
      for (const kind of kinds) {
        try {
          enqueue(payloadEvent(kind, exchange, kind === 'request' ? exchange.request() : exchange.response(), names, at));
        } catch (err) {
          // A body that cannot be rendered is this event's loss, never the answer's.
          log.warn({ err, id: exchange.id, type: kind }, 'payload event not built');
          count(kind, 'dropped-rejected');
        }
      }
    },
  };

  return {
    sink,
    stats: () => ({ outcomes, pending: queue.length + sending, pendingBytes: queuedBytes + sendingBytes }),
    async close(graceMs = 5_000) {
      closed = true;
      if (sending > 0 || queue.length > 0) {
        const drained = new Promise<void>((resolve) => (idle = resolve));
        await Promise.race([drained, delay(graceMs, undefined, { ref: false })]);
      }
      stopping.abort();
      for (const event of queue.splice(0)) count(event.kind, 'dropped-shutdown');
      queuedBytes = 0;
    },
  };
}

/** The logger the configuration asks for; none without `PAYLOAD_LOGGER_URL`. */
export function payloadLoggerFromConfig(settings: PayloadLoggerSettings, log: Logger): PayloadLogger | undefined {
  const { url } = settings;
  if (url === undefined) return undefined;
  return createPayloadLogger({ ...settings, url }, log);
}
