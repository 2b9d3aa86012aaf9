/**
 * A queue shared fairly between clients: each client's items wait in a queue of their own, in
 * their order, and the clients take turns, one item each. It is deficit round robin (Shreedhar
 * and Varghese, 1995) with a quantum of one item where every item costs one (an image: a batch
 * is as many items as it has images), which makes it plain round robin: a client with one item
 * waiting has at most one item of each other client ahead of it, however many they queued.
 *
 * When the queue is bounded and full, a newcomer takes the place of the newest item of the client
 * holding the most, as long as it would then hold no more ({@link FairQueue.displace}): one
 * client filling the queue cannot lock the others out of it (the "longest queue drop" of fair
 * queueing), and a client that keeps to its share is never the one refused.
 *
 * ```ts
 * const queue = createFairQueue<Waiter>();
 * queue.push('token:alice', a1); queue.push('token:alice', a2); queue.push('address:10.0.0.7', b1);
 * queue.shift(); // a1, then b1, then a2
 * ```
 */

/** Items of several clients, served in turn. */
export interface FairQueue<T> {
  /** Items waiting, every client's. */
  readonly size: number;
  /** Clients with items waiting. */
  readonly clients: number;
  /** Items `client` has waiting. */
  sizeOf(client: string): number;
  /** Items waiting of the client with the fewest waiting (0 when none waits). */
  readonly fewest: number;
  /** Adds `item` at the end of `client`'s queue. */
  push(client: string, item: T): void;
  /** The item {@link FairQueue.shift} would return, left in place. */
  peek(may?: (client: string) => boolean): T | undefined;
  /**
   * Removes the next item: the oldest of the client whose turn it is (the first in turn that `may`
   * allows, when given: others keep their turn); that client's turn then passes.
   */
  shift(may?: (client: string) => boolean): T | undefined;
  /** Removes `item` from `client`'s queue (a waiter that gave up); whether it was there. */
  delete(client: string, item: T): boolean;
  /** Whether {@link FairQueue.displace} would make room for `client` now (nothing is removed). */
  canDisplace(client: string): boolean;
  /**
   * Makes room for one item of `client` when the queue is full: removes and returns the newest
   * item of the client holding the most, if that client would still hold at least as many as
   * `client` with the newcomer; `undefined` (nothing removed) otherwise.
   */
  displace(client: string): T | undefined;
}

/** Creates an empty fair queue. */
export function createFairQueue<T>(): FairQueue<T> {
  // The clients with items waiting, in turn order: a Map keeps insertion order, and a client
  // whose turn has passed is inserted again, at the end.
  const queues = new Map<string, T[]>();
  let size = 0;

  const removeFrom = (client: string, queue: T[], at: number): T => {
    const [item] = queue.splice(at, 1);
    size--;
    if (queue.length === 0) queues.delete(client);
    return item!;
  };

  /** The client holding the most, if it holds at least two more than `client`. */
  const displaceable = (client: string): [string, T[]] | undefined => {
    let longest: [string, T[]] | undefined;
    for (const entry of queues) if (!longest || entry[1].length > longest[1].length) longest = entry;
    return longest && longest[1].length - 1 > (queues.get(client)?.length ?? 0) ? longest : undefined;
  };

  return {
    get size() {
      return size;
    },
    get clients() {
      return queues.size;
    },
    get fewest() {
      let fewest = Infinity;
      for (const queue of queues.values()) fewest = Math.min(fewest, queue.length);
      return fewest === Infinity ? 0 : fewest;
    },
    sizeOf(client) {
      return queues.get(client)?.length ?? 0;
    },
    push(client, item) {
      const queue = queues.get(client);
      if (queue) queue.push(item);
      // A client that had nothing waiting takes its turn after those waiting now.
      else queues.set(client, [item]);
      size++;
    },
    peek(may) {
      for (const [client, queue] of queues) if (!may || may(client)) return queue[0];
      return undefined;
    },
    shift(may) {
      for (const [client, queue] of queues) {
        if (may && !may(client)) continue;
        const item = removeFrom(client, queue, 0);
        // Its turn has passed: to the end of the line, if it has more.
        if (queues.delete(client)) queues.set(client, queue);
        return item;
      }
      return undefined;
    },
    delete(client, item) {
      const queue = queues.get(client);
      const at = queue?.indexOf(item) ?? -1;
      if (at < 0) return false;
      removeFrom(client, queue!, at);
      return true;
    },
    canDisplace(client) {
      return displaceable(client) !== undefined;
    },
    displace(client) {
      const longest = displaceable(client);
      return longest && removeFrom(longest[0], longest[1], longest[1].length - 1);
    },
  };
}
