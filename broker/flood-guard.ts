export interface FloodGuardOptions {
  /** Invalid messages one device may send in a minute before it is disconnected (MQTT_MAX_INVALID_PER_MIN). */
  maxInvalidPerMinute: number;
  /** The first time-out; each further one within an hour doubles it, up to `maxBanMs`. */
  firstBanMs?: number;
  maxBanMs?: number;
}

interface Offender {
  windowStart: number;
  invalid: number;
  /** Time-outs given within the last hour (the next one lasts 2^bans × firstBanMs). */
  bans: number;
  bannedUntil: number;
  lastBanAt: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * Per-device limit on invalid messages: one broken or hostile device cannot flood the dead letters
 * or the store. Past the limit within a minute the device is disconnected and refused for a while
 * (CONNACK 3, "server unavailable": firmware retries later rather than giving up on its
 * credentials), 10 s the first time, doubling for each repeat within an hour, at most 15 min. A
 * device that behaves for an hour starts again from 10 s. Only devices that sent something invalid
 * are tracked.
 */
export class FloodGuard {
  private readonly offenders = new Map<string, Offender>();
  private readonly firstBanMs: number;
  private readonly maxBanMs: number;
  private lastSweep = 0;
  /** Time-outs given since start. */
  bans = 0;

  constructor(private readonly opts: FloodGuardOptions) {
    this.firstBanMs = opts.firstBanMs ?? 10_000;
    this.maxBanMs = opts.maxBanMs ?? 15 * 60_000;
  }

  /** Counts one invalid message; returns the time-out (ms) when this one passes the limit. */
  invalid(deviceId: string, now: number): number | undefined {
    this.sweep(now);
    let o = this.offenders.get(deviceId);
    if (!o) this.offenders.set(deviceId, (o = { windowStart: now, invalid: 0, bans: 0, bannedUntil: 0, lastBanAt: 0 }));
    if (now - o.windowStart >= MINUTE_MS) {
      o.windowStart = now;
      o.invalid = 0;
    }
    if (++o.invalid <= this.opts.maxInvalidPerMinute || now < o.bannedUntil) return undefined;
    if (now - o.lastBanAt > HOUR_MS) o.bans = 0;
    const ms = Math.min(this.firstBanMs * 2 ** o.bans, this.maxBanMs);
    o.bans++;
    o.lastBanAt = now;
    o.bannedUntil = now + ms;
    o.invalid = 0;
    o.windowStart = now;
    this.bans++;
    return ms;
  }

  /** How long the device is still refused (0: it may connect). */
  bannedFor(deviceId: string, now: number): number {
    const o = this.offenders.get(deviceId);
    return o && o.bannedUntil > now ? o.bannedUntil - now : 0;
  }

  /** Devices refused right now. */
  bannedCount(now: number): number {
    let n = 0;
    for (const o of this.offenders.values()) if (o.bannedUntil > now) n++;
    return n;
  }

  /** Forgets devices that have been quiet for an hour and are not refused. */
  private sweep(now: number): void {
    if (now - this.lastSweep < MINUTE_MS) return;
    this.lastSweep = now;
    for (const [id, o] of this.offenders) if (o.bannedUntil < now && now - Math.max(o.windowStart, o.lastBanAt) > HOUR_MS) this.offenders.delete(id);
  }
}
