/**
 * The capture store as the service runs it: the {@link CaptureSink} the inference core offers
 * its answers to, and the {@link CaptureStore} the captures front-end reads and labels through,
 * both in front of one writer thread (`writer-thread.ts`) that owns the database and the files.
 *
 * Never in an answer's way: `offer` copies the images it takes (so a request's memory is not
 * held) into a queue bounded by `CAPTURE_QUEUE_MIB`, which the writer drains; what does not fit,
 * or comes while the writer cannot write (a full disk, a read-only folder), is dropped and
 * counted (`catdog_captures_total{outcome}`), with one warning per change of state. The store's
 * requests wait for the writer in turn, at most {@link MAX_PENDING_REQUESTS} at once (beyond,
 * 503 `capture-unavailable` at once), each at most {@link REQUEST_TIMEOUT_MS}.
 *
 * ```ts
 * const capture = createCaptureService(config.capture, log);
 * const app = await createApp({ ..., capture });
 * ...
 * await capture.close();
 * ```
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CaptureUnavailable } from '../errors.js';
import type { CaptureRecord, CaptureSink } from '../inference/capture.js';
import { createWarningLimiter, type Logger } from '../log.js';
import { DATABASE_FILE, imageFile } from './database.js';
import type { FromWriter, StoreRequest, StoreTotals, StoreValues, ToWriter, WireCapture, WriterInit } from './protocol.js';
import type { CaptureAvailability, CaptureSettings, CaptureStore } from './types.js';

/** Requests to the store waiting for the writer at once; beyond, 503 at once. */
const MAX_PENDING_REQUESTS = 256;
/** Longest wait for the writer's answer to a request, in milliseconds. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Most captures waiting for the writer, whatever their bytes. */
const MAX_QUEUED_CAPTURES = 4_096;
/** How long `close` waits for the writer to finish what it was sent, in milliseconds. */
const CLOSE_TIMEOUT_MS = 5_000;

/** Why a sampled answer was not stored, or that it was. */
export type CaptureOutcome = 'stored' | 'duplicate-id' | 'dropped-queue-full' | 'dropped-unwritable' | 'dropped-unavailable';

/** What the metrics read of the store. */
export interface CaptureStats {
  /** Whether sampled answers are being written now. */
  readonly writing: boolean;
  /** Sampled answers since start-up, by what became of them. */
  readonly outcomes: ReadonlyMap<CaptureOutcome, number>;
  /** Bytes of images waiting for the writer. */
  readonly queuedBytes: number;
  /** What the store holds, as of the last write. */
  readonly totals: StoreTotals | undefined;
}

/** The capture store of a running service. */
export interface CaptureService {
  readonly sink: CaptureSink;
  readonly store: CaptureStore;
  /** The service's public URL for Label Studio tasks (`CAPTURE_BASE_URL`). */
  readonly baseUrl: string | undefined;
  stats(): CaptureStats;
  /** Resolves once the writer has opened the database (or failed to, and will try again). */
  readonly started: Promise<void>;
  /** Lets the writer finish what it was sent (within a few seconds), then stops it. */
  close(): Promise<void>;
}

/**
 * The store the configuration asks for: started when capture is on (`CAPTURE_SAMPLE_RATE` > 0),
 * or when it is off but `CAPTURE_DIR` holds a database (its captures can still be read and
 * labelled); otherwise none, and nothing is created on disk.
 */
export function captureFromConfig(settings: CaptureSettings, log: Logger): CaptureService | undefined {
  if (settings.sampleRate > 0 || existsSync(path.join(settings.dir, DATABASE_FILE))) return createCaptureService(settings, log);
  return undefined;
}

/** Starts the writer thread from this module's sibling file (`.ts` under tsx, `.js` once compiled). */
function spawnWriter(init: WriterInit): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./writer-thread${fromSource ? '.ts' : '.js'}`, import.meta.url);
  if (!fromSource) return new Worker(url, { workerData: init });
  // tsx's loader does not reach worker threads: import the TypeScript entry through its API.
  const code = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(url.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true, workerData: init });
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Options of {@link createCaptureService} that only tests change. */
export interface CaptureServiceOptions {
  /** How long writing stops after a failure before it is tried again, in milliseconds; default 30 s. */
  readonly retryMs?: number;
}

/** Starts the store on `settings.dir` (created if need be). */
export function createCaptureService(settings: CaptureSettings, log: Logger, options: CaptureServiceOptions = {}): CaptureService {
  const outcomes = new Map<CaptureOutcome, number>();
  const count = (outcome: CaptureOutcome, n = 1): void => {
    if (n > 0) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + n);
  };
  const warnDropped = createWarningLimiter(60_000);

  let availability: CaptureAvailability = { available: false, reason: 'The capture store is starting' };
  let writing = false;
  let totals: StoreTotals | undefined;
  let queuedBytes = 0;
  let queuedCaptures = 0;
  let closing = false;
  let seq = 0;
  const pending = new Map<number, Pending>();
  // Captures taken since the last hand-over to the writer (one message per turn of the event loop).
  let batch: WireCapture[] = [];
  let batchBytes = 0;
  let flushScheduled = false;
  let onClosed: (() => void) | undefined;
  let onStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (onStarted = resolve));

  const worker = spawnWriter({ dir: settings.dir, maxBytes: settings.maxBytes, maxAgeMs: settings.maxAgeMs, retryMs: options.retryMs ?? 30_000 });
  // The writer never keeps the process alive on its own: main.ts closes it at shutdown.
  worker.unref();

  const failAll = (reason: string): void => {
    for (const [key, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new CaptureUnavailable(reason));
      pending.delete(key);
    }
  };

  worker.on('message', (message: FromWriter) => {
    switch (message.kind) {
      case 'opened':
        availability = { available: true };
        writing = true;
        totals = message.totals;
        log.info(
          { dir: settings.dir, sampleRate: settings.sampleRate, captures: message.totals.captures, images: message.totals.images, bytes: message.totals.bytes, migrated: message.migrated, sweptFiles: message.sweptFiles },
          'capture store open',
        );
        onStarted();
        return;
      case 'open-failed':
        // The reason names files and system errors: for the log, not for clients.
        availability = { available: false, reason: `The capture store cannot be opened (retried every ${Math.round(message.retryInMs / 1000)} s; the service log says why)` };
        writing = false;
        log.warn({ dir: settings.dir, reason: message.reason, retryInMs: message.retryInMs }, 'capture store unavailable: not capturing');
        onStarted();
        return;
      case 'written':
        queuedBytes -= message.bytes;
        queuedCaptures -= message.stored + message.duplicates + message.dropped;
        count('stored', message.stored);
        count('duplicate-id', message.duplicates);
        count('dropped-unwritable', message.dropped);
        totals = message.totals;
        return;
      case 'writing':
        writing = message.writing;
        // One warning when writing stops, one line when it is back; the retries in between are quiet.
        if (message.writing) {
          if (!message.retry) log.info({ dir: settings.dir }, 'capture store writable again: capturing');
        } else if (!message.again) {
          log.warn({ dir: settings.dir, reason: message.reason, retryInMs: message.retryInMs }, 'capture store cannot write: not capturing (answers are not affected)');
        }
        return;
      case 'pruned':
        totals = message.totals;
        log.info({ removedCaptures: message.captures, removedImages: message.images, ...message.totals }, 'capture store pruned (CAPTURE_MAX_MIB, CAPTURE_MAX_AGE_DAYS)');
        return;
      case 'totals':
        totals = message.totals;
        return;
      case 'reply': {
        const p = pending.get(message.seq);
        if (!p) return;
        pending.delete(message.seq);
        clearTimeout(p.timer);
        if (message.ok) p.resolve(message.value);
        else {
          log.error({ reason: message.reason }, 'capture store request failed');
          p.reject(new CaptureUnavailable('The capture store failed to answer; the service log says why'));
        }
        return;
      }
      case 'closed':
        onClosed?.();
        return;
    }
  });
  worker.on('error', (err) => {
    log.error({ err }, 'capture writer failed: not capturing');
  });
  worker.on('exit', (code) => {
    availability = { available: false, reason: closing ? 'The capture store is closed' : `The capture writer stopped (exit code ${code})` };
    writing = false;
    failAll(availability.reason);
    onStarted();
    onClosed?.();
  });

  const post = (message: ToWriter, transfer: ArrayBuffer[] = []): void => worker.postMessage(message, transfer);

  const flush = (): void => {
    flushScheduled = false;
    if (batch.length === 0) return;
    const captures = batch;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    post({ kind: 'capture', captures, bytes }, captures.map((c) => c.image.buffer as ArrayBuffer));
  };

  const request = <K extends StoreRequest['op']>(req: Extract<StoreRequest, { op: K }>): Promise<StoreValues[K]> => {
    if (!availability.available) return Promise.reject(new CaptureUnavailable(availability.reason));
    if (pending.size >= MAX_PENDING_REQUESTS) {
      return Promise.reject(new CaptureUnavailable('Too many requests are waiting for the capture store; retry in a moment'));
    }
    const key = ++seq;
    return new Promise<StoreValues[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(key);
        reject(new CaptureUnavailable(`The capture store did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      pending.set(key, { resolve: resolve as (value: unknown) => void, reject, timer });
      post({ kind: 'request', seq: key, request: req });
    });
  };

  const sink: CaptureSink = {
    sample: () => settings.sampleRate > 0 && !closing && (settings.sampleRate >= 1 || Math.random() < settings.sampleRate),
    offer(records: readonly CaptureRecord[]) {
      try {
        if (!availability.available || closing) {
          count('dropped-unavailable', records.length);
          return;
        }
        if (!writing) {
          count('dropped-unwritable', records.length);
          return;
        }
        const bytes = records.reduce((sum, r) => sum + r.image.byteLength, 0);
        if (queuedBytes + bytes > settings.queueBytes || queuedCaptures + records.length > MAX_QUEUED_CAPTURES) {
          count('dropped-queue-full', records.length);
          warnDropped((held) => log.warn({ queuedBytes, queueBytes: settings.queueBytes, held }, 'capture queue full: sampled answers dropped (the writer lags)'));
          return;
        }
        queuedBytes += bytes;
        queuedCaptures += records.length;
        for (const r of records) {
          batch.push({
            id: r.id,
            at: r.at,
            source: r.origin.source,
            model: r.model,
            modelName: r.modelName,
            version: r.version,
            labels: [...r.labels],
            values: [...r.values],
            prediction: r.prediction,
            elapsedMs: r.elapsedMs,
            subject: r.origin.subject,
            requestId: r.origin.requestId,
            // A copy of its own, transferred to the writer: the request's buffer (a multipart
            // part, a view of a V2 body) is let go. (Buffer#slice would share it.)
            image: new Uint8Array(r.image),
          });
        }
        batchBytes += bytes;
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      } catch (err) {
        // Capture never fails an answer.
        count('dropped-unavailable', records.length);
        log.error({ err }, 'capture failed');
      }
    },
  };

  const store: CaptureStore = {
    availability: () => availability,
    get: (id) => request<'get'>({ op: 'get', id }),
    list: (query) => request<'list'>({ op: 'list', query }),
    async image(id) {
      const view = await request<'get'>({ op: 'get', id });
      if (!view) return undefined;
      const file = imageFile(settings.dir, view.image.sha256);
      const found = await stat(file).catch(() => undefined);
      return found?.isFile() ? { file, view } : undefined;
    },
    feedback: (id, label, subject) => request<'feedback'>({ op: 'feedback', id, label, subject, at: Date.now() }),
  };

  return {
    sink,
    store,
    baseUrl: settings.baseUrl,
    started,
    stats: () => ({ writing, outcomes, queuedBytes, totals }),
    async close() {
      if (closing) return;
      closing = true;
      flush();
      const closed = new Promise<void>((resolve) => (onClosed = resolve));
      post({ kind: 'close' });
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
      await Promise.race([closed, timeout]);
      availability = { available: false, reason: 'The capture store is closed' };
      failAll(availability.reason);
      await worker.terminate();
    },
  };
}
