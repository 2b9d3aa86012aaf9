/**
 * What a repository did since start-up, counted for the metrics (`RepositoryActivity`): each
 * version's load by outcome, and each change of the version a model serves.
 */
import type { RepositoryActivity } from './types.js';

/** The counters behind {@link RepositoryActivity}; they only grow. */
export class ActivityCounters {
  readonly #loads = new Map<string, Map<string, number>>();
  readonly #switches = new Map<string, number>();

  /** Counts a load of a version of `name`: `loaded`, or the code of its refusal (see `refusal.ts`). */
  loaded(name: string, outcome: string): void {
    const byOutcome = this.#loads.get(name) ?? new Map<string, number>();
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    this.#loads.set(name, byOutcome);
  }

  /** Counts a change of the version serving `name`. */
  switched(name: string): void {
    this.#switches.set(name, (this.#switches.get(name) ?? 0) + 1);
  }

  /** The counts so far, live: the maps keep counting. */
  activity(): RepositoryActivity {
    return { loads: this.#loads, switches: this.#switches };
  }
}
