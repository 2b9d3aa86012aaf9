/**
 * `MODEL_CONTROL=poll`: rescans the repository every interval, one scan at a time (the next is
 * scheduled when the last is done, however long its loads took), on a timer that does not
 * keep the process alive.
 */

/** A running poll; {@link Polling.stop} ends it. */
export interface Polling {
  stop(): void;
}

/** Runs `scan` every `intervalMs` after the previous one finished; `scan` handles its own errors. */
export function startPolling(scan: () => Promise<void>, intervalMs: number): Polling {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void scan().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
