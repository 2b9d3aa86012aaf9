/**
 * Traffic between versions of a model, as the core applies it to a request naming no version
 * (the repository says what applies now: `ModelRepository.routes`):
 *
 * - **canary**: `percent` % of the clients are answered by the candidate. A client is a token's
 *   subject or an address (`CallOptions.client`); its hash, with the model's name, puts it on one
 *   side of the split for good, so that a user sees one version. Calls naming no client are drawn
 *   at random.
 * - **shadow**: the candidate also classifies a sample (`SHADOW_SAMPLE_RATE`) of the images the
 *   serving version answered, after the answer, off its path, and only with spare capacity: no
 *   classification waiting at the gate, fewer classifications running than {@link spareSlotsOf}
 *   (half the cores, at most a quarter of the gate's slots, at least one), and fewer than
 *   {@link MAX_SHADOW_INFLIGHT} shadows running. Shadow work never passes through the gate (it
 *   never holds a slot a request could take) and is the first to go: when the gate is busier it is
 *   skipped, and counted.
 *
 * The gate's slots (`MAX_INFLIGHT`, 16) are many more than the cores that run them: a free slot
 * alone says little (at c=16 one is free whenever a client is between two requests). A shadow
 * classification takes a core for as long as the answer's did, so it runs only while the
 * classifications running leave a core free: on 2 cores, only when none runs.
 */
import { availableParallelism } from 'node:os';
import { LARGE_DECODE_BYTES } from '../model/image/decode-cost.js';
import type { Classification } from '../model/postprocess.js';
import type { ModelRepository, ServedModel } from '../repository/types.js';
import type { Admission } from './admission.js';

/** Shadow classifications running at once, at most: a sample of the spare capacity, not all of it. */
const MAX_SHADOW_INFLIGHT = 1;

/**
 * Classifications running below which there is spare capacity for a shadow, with `maxInflight`
 * slots at the gate on `cores` cores: half the cores, at most a quarter of the slots, at least 1.
 */
export const spareSlotsOf = (maxInflight: number, cores: number): number =>
  Math.max(1, Math.min(Math.floor(maxInflight / 4), Math.floor(cores / 2)));

/** The client the candidate's batcher sees for shadow work. */
const SHADOW_CLIENT = 'shadow';

/** Shadow traffic's settings (`SHADOW_SAMPLE_RATE`). */
export interface ShadowSettings {
  /** Share of the answers of the serving version the shadow candidate also classifies, 0 to 1. */
  readonly sampleRate: number;
}

/** One comparison of a shadow candidate with the version that answered. */
export interface ShadowComparison {
  readonly name: string;
  readonly servingVersion: string;
  readonly candidateVersion: string;
  readonly serving: Classification;
  readonly shadow: Classification;
}

/**
 * The mean absolute difference of two answers' probabilities, over the labels both have, by name (a
 * retrained head may order them otherwise); `undefined` when they share none.
 */
export function probabilityDifference(serving: Classification, shadow: Classification): number | undefined {
  const diffs = serving.labels.flatMap((label, i) => {
    const j = shadow.labels.indexOf(label);
    return j < 0 ? [] : [Math.abs(serving.values[i]! - shadow.values[j]!)];
  });
  return diffs.length === 0 ? undefined : diffs.reduce((a, b) => a + b, 0) / diffs.length;
}

/** Why a drawn shadow classification did not run: no spare capacity, or the candidate failed it. */
export type ShadowSkip = 'busy' | 'failed';

/** 32-bit FNV-1a of `text`: cheap, and spreads similar subjects (`token:user-1`, `token:user-2`) evenly. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Whether `client`'s calls to `model` go to a canary of `percent` %: always the same answer for a
 * client (`undefined` or empty: a random draw per call).
 */
export function inCanary(model: string, client: string | undefined, percent: number, random: () => number = Math.random): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  const bucket = client ? fnv1a(`${model}\u0000${client}`) % 10_000 : Math.floor(random() * 10_000);
  return bucket < percent * 100;
}

/** What the shadow runner is built from. */
export interface ShadowDeps {
  readonly repository: ModelRepository;
  /** The classifications' gate, whose idle state is the spare capacity. */
  readonly admission: Admission;
  /** Its ordinary lane's slots (`MAX_INFLIGHT`). */
  readonly maxInflight: number;
  readonly settings: ShadowSettings;
  readonly compared?: (comparison: ShadowComparison) => void;
  readonly skipped?: (skip: { readonly name: string; readonly candidateVersion: string; readonly reason: ShadowSkip }) => void;
  /** Draws the sample; default `Math.random`. */
  readonly random?: () => number;
  /** The cores the classifications share; default `os.availableParallelism()`. */
  readonly cores?: number;
}

/** Runs shadow classifications; see the module comment. */
export interface ShadowRunner {
  /**
   * Offers the images `serving` answered to the candidate `candidateVersion` of its model: those
   * drawn run later, if there is spare capacity. Returns at once and never throws: whether it
   * kept any image, whose bytes then outlive the request (the caller must not release them).
   */
  offer(serving: ServedModel, candidateVersion: string, answered: readonly { readonly image: Uint8Array; readonly result: Classification }[]): boolean;
  /** Shadow classifications running now. */
  readonly inflight: number;
}

/** Creates the shadow runner. */
export function createShadowRunner(deps: ShadowDeps): ShadowRunner {
  const { repository, admission, settings } = deps;
  const random = deps.random ?? Math.random;
  let inflight = 0;
  const spareSlots = spareSlotsOf(deps.maxInflight, deps.cores ?? availableParallelism());
  const spare = (): boolean => admission.queued === 0 && admission.inflight < spareSlots && inflight < MAX_SHADOW_INFLIGHT;

  /** Runs one shadow classification, whose place `offer` took (`inflight`). */
  const run = async (serving: ServedModel, candidateVersion: string, image: Uint8Array, result: Classification): Promise<void> => {
    const { name } = serving;
    const skip = (reason: ShadowSkip): void => deps.skipped?.({ name, candidateVersion, reason });
    let lease;
    try {
      lease = repository.acquire(name, candidateVersion);
    } catch {
      inflight--;
      return skip('failed');
    }
    try {
      const { classifier } = lease.model;
      const header = await classifier.inspect(image, SHADOW_CLIENT);
      // A large decode needs the memory budget the gate keeps for requests; and the gate may have filled meanwhile.
      if (header.decodeBytes > LARGE_DECODE_BYTES || admission.queued > 0 || admission.inflight >= spareSlots) return skip('busy');
      const shadow = await classifier.classify(image, header, SHADOW_CLIENT);
      deps.compared?.({ name, servingVersion: serving.version, candidateVersion, serving: result, shadow });
    } catch {
      skip('failed');
    } finally {
      inflight--;
      lease.release();
    }
  };

  return {
    get inflight() {
      return inflight;
    },
    offer(serving, candidateVersion, answered) {
      if (settings.sampleRate <= 0) return false;
      let kept = false;
      for (const { image, result } of answered) {
        if (random() >= settings.sampleRate) continue;
        if (!spare()) {
          deps.skipped?.({ name: serving.name, candidateVersion, reason: 'busy' });
          continue;
        }
        inflight++;
        kept = true;
        // After the answer: the caller's promise resolves first.
        setImmediate(() => void run(serving, candidateVersion, image, result));
      }
      return kept;
    },
  };
}
