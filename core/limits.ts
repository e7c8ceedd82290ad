/**
 * Limits on guessing and floods (SECURITY.md). Bounded in memory: a key not seen for a while is
 * forgotten, and at most `maxKeys` are kept (the oldest go first).
 */

/**
 * Failed authentications per key (a source address, an account): more than `perMinute` within a
 * minute blocks the key for `baseBlockMs`, doubling with each further block up to `maxBlockMs`.
 * While blocked, its failures are answered with a refusal that says so (429, CONNACK 5) and cost no
 * more than the check; a credential that verifies still gets in, so a guesser cannot lock out the
 * people (or the devices behind one NAT address) who share its address. Successes do not reset
 * anything: a valid token between guesses buys no extra guesses.
 */
export class FailureLimiter {
  private readonly keys = new Map<string, { failures: number; windowStart: number; blockedUntil: number; blocks: number }>();
  failures = 0;
  blocks = 0;

  constructor(private readonly o: { perMinute: number; baseBlockMs: number; maxBlockMs: number; maxKeys?: number; now?: () => number }) {}

  /** How long this key is still blocked (0: not). */
  blockedFor(key: string): number {
    const k = this.keys.get(key);
    return k ? Math.max(0, k.blockedUntil - this.now()) : 0;
  }

  /** Records a failure; returns the block it started, if this failure crossed the limit. */
  fail(key: string): { blockedMs: number } | undefined {
    const now = this.now();
    this.failures++;
    let k = this.keys.get(key);
    if (!k) {
      if (this.keys.size >= (this.o.maxKeys ?? 100_000)) this.evictOne(now);
      k = { failures: 0, windowStart: now, blockedUntil: 0, blocks: 0 };
      this.keys.set(key, k);
    }
    if (now - k.windowStart > 60_000) {
      k.windowStart = now;
      k.failures = 0;
      // Quiet for an hour: the next block starts small again.
      if (now - k.blockedUntil > 3_600_000) k.blocks = 0;
    }
    k.failures++;
    if (k.failures <= this.o.perMinute) return undefined;
    const blockedMs = Math.min(this.o.maxBlockMs, this.o.baseBlockMs * 2 ** k.blocks);
    k.blocks++;
    k.blockedUntil = now + blockedMs;
    k.failures = 0;
    k.windowStart = now;
    this.blocks++;
    return { blockedMs };
  }

  /** The oldest key that is not blocked goes first (a flood of new addresses cannot lift a block). */
  private evictOne(now: number): void {
    for (const [key, k] of this.keys) {
      if (k.blockedUntil <= now) {
        this.keys.delete(key);
        return;
      }
    }
    this.keys.delete(this.keys.keys().next().value!);
  }

  blockedNow(): number {
    const now = this.now();
    let n = 0;
    for (const k of this.keys.values()) if (k.blockedUntil > now) n++;
    return n;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

/** Requests per key (a token): a bucket of `burst` refilled at `perSecond`. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  refused = 0;

  constructor(private readonly o: { perSecond: number; burst: number; maxKeys?: number; now?: () => number }) {}

  /** Takes one; false when the key is over its rate. */
  take(key: string): boolean {
    const now = (this.o.now ?? Date.now)();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= (this.o.maxKeys ?? 100_000)) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.o.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.refused++;
      return false;
    }
    b.tokens--;
    return true;
  }
}

/** Open connections (or streams) per key, with a ceiling. */
export class ConcurrencyLimiter {
  private readonly open = new Map<string, number>();
  refused = 0;

  constructor(readonly max: number) {}

  /** Takes a slot; returns its release, or undefined when the key is at its ceiling. */
  acquire(key: string): (() => void) | undefined {
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) {
      this.refused++;
      return undefined;
    }
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}

/** The platform's limits, shared by the broker and the API (one count per address for both). */
export interface Limits {
  addressFailures: FailureLimiter;
  accountFailures: FailureLimiter;
  tokenRate: RateLimiter;
  httpConnections: ConcurrencyLimiter;
  mqttConnections: ConcurrencyLimiter;
  sseStreams: ConcurrencyLimiter;
}

export function createLimits(c: {
  AUTH_FAILURES_PER_MIN_PER_ADDRESS: number;
  AUTH_FAILURES_PER_MIN_PER_ACCOUNT: number;
  AUTH_BLOCK_MAX_S: number;
  HTTP_RATE_PER_TOKEN: number;
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: number;
  MQTT_MAX_CONNECTIONS_PER_ADDRESS: number;
  SSE_MAX_STREAMS_PER_USER: number;
}): Limits {
  const block = { baseBlockMs: 1000, maxBlockMs: c.AUTH_BLOCK_MAX_S * 1000 };
  return {
    addressFailures: new FailureLimiter({ perMinute: c.AUTH_FAILURES_PER_MIN_PER_ADDRESS, ...block }),
    accountFailures: new FailureLimiter({ perMinute: c.AUTH_FAILURES_PER_MIN_PER_ACCOUNT, ...block }),
    tokenRate: new RateLimiter({ perSecond: c.HTTP_RATE_PER_TOKEN, burst: c.HTTP_RATE_PER_TOKEN * 2 }),
    httpConnections: new ConcurrencyLimiter(c.HTTP_MAX_CONNECTIONS_PER_ADDRESS),
    mqttConnections: new ConcurrencyLimiter(c.MQTT_MAX_CONNECTIONS_PER_ADDRESS),
    sseStreams: new ConcurrencyLimiter(c.SSE_MAX_STREAMS_PER_USER),
  };
}

/** What health shows of the limits. */
export function limitsStatus(l: Limits) {
  return {
    authFailures: l.addressFailures.failures,
    authBlocks: l.addressFailures.blocks + l.accountFailures.blocks,
    blockedNow: l.addressFailures.blockedNow() + l.accountFailures.blockedNow(),
    rateRefused: l.tokenRate.refused,
    connectionsRefused: l.httpConnections.refused + l.mqttConnections.refused,
    streamsRefused: l.sseStreams.refused,
  };
}

/** The key an address is limited by: an IPv4 address, or an IPv6 /64 (one subscriber's prefix). */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (address.startsWith('::ffff:')) return address.slice(7);
  if (!address.includes(':')) return address;
  const groups = address.split('::')[0]!.split(':');
  return `${groups.slice(0, 4).join(':')}::/64`;
}
