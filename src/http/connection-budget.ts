/**
 * The connection budget: how many client connections may be open at once, in total and per
 * client address, with a reserve kept for addresses that hold none yet. Pure accounting; the
 * server (`connection-guard.ts`) asks it about each new connection and answers the refused ones.
 *
 * ```ts
 * const budget = createConnectionBudget({ maxConnections: 64, maxPerAddress: 32, reserve: 8 });
 * const decision = budget.admit(socket.remoteAddress);
 * if (decision.admitted) socket.once('close', decision.release);
 * ```
 *
 * Why per address and a reserve: a client that opens many slow connections (slowloris, slow
 * uploads) would otherwise take every slot, and everyone else, the kubelet's probes included,
 * would be refused. With a per-address cap one address cannot take more than its share, and the
 * reserve keeps the last slots for addresses that hold few connections, so that several greedy
 * addresses together still leave room for a new client.
 */
import net from 'node:net';

/** Limits, from the configuration (`MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_ADDRESS`, `CONNECTION_RESERVE`). */
export interface ConnectionBudgetOptions {
  /** Connections open at once, in total. */
  readonly maxConnections: number;
  /** Connections one address may hold at once. */
  readonly maxPerAddress: number;
  /**
   * The last `reserve` slots of `maxConnections` go only to addresses holding fewer than
   * `reserve / 2` connections (at least 1): a new client, or one with a few connections (a
   * browser opens up to six), not the addresses that filled the rest.
   */
  readonly reserve: number;
}

/** The budget's answer for a new connection. */
export type BudgetDecision =
  | {
    readonly admitted: true;
    /** The address as the budget counts it. */
    readonly key: string;
    /** Gives the slot back; further calls do nothing. */
    readonly release: () => void;
  }
  | {
    readonly admitted: false;
    readonly key: string;
    /** `address`: this address holds its share; `server`: no slot is left for it. */
    readonly scope: 'address' | 'server';
  };

/** The connection budget of one server. */
export interface ConnectionBudget {
  /** Asks for a slot for a connection from `remoteAddress` (undefined: the socket is already gone). */
  admit(remoteAddress: string | undefined): BudgetDecision;
  /** Connections holding a slot now. */
  readonly open: number;
  /** Connections `key` holds now. */
  heldBy(key: string): number;
}

/**
 * The address a connection is counted under: IPv4 as is (also when it arrives IPv4-mapped on an
 * IPv6 socket), IPv6 by its /64 prefix, the smallest block a host is usually given (RFC 6177),
 * so that one host cannot take a slot per address of its prefix.
 */
export function clientKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(remoteAddress)) return remoteAddress;
  return `${expandIPv6(remoteAddress).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hexadecimal without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.replace(/%.*$/, '').toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, quad.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
}

/** Creates an empty budget. */
export function createConnectionBudget(options: ConnectionBudgetOptions): ConnectionBudget {
  const { maxConnections, maxPerAddress, reserve } = options;
  /** Below this, an address may take a slot of the reserve. */
  const reserveShare = Math.max(1, Math.floor(reserve / 2));
  const held = new Map<string, number>();
  let open = 0;

  return {
    admit(remoteAddress) {
      const key = clientKey(remoteAddress);
      const mine = held.get(key) ?? 0;
      if (open >= maxConnections) return { admitted: false, key, scope: 'server' };
      if (mine >= maxPerAddress) return { admitted: false, key, scope: 'address' };
      if (mine >= reserveShare && open >= maxConnections - reserve) return { admitted: false, key, scope: 'server' };
      open++;
      held.set(key, mine + 1);
      let released = false;
      return {
        admitted: true,
        key,
        release() {
          if (released) return;
          released = true;
          open--;
          const left = (held.get(key) ?? 1) - 1;
          if (left > 0) held.set(key, left);
          else held.delete(key);
        },
      };
    },
    get open() {
      return open;
    },
    heldBy(key) {
      return held.get(key) ?? 0;
    },
  };
}
