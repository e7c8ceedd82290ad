/** Sequence numbers remembered per device: the window a resend after a reconnect falls into. */
const WINDOW = 1024;
const WORDS = WINDOW / 32;

interface Seen {
  /** Highest seq seen. */
  max: number;
  /** Latest device timestamp seen (only plausible ones count). */
  maxTs: number;
  /** When the device last sent a seq, server time. */
  at: number;
  /** Bit (seq mod WINDOW) set: that seq in (max − WINDOW, max] was seen. */
  bits: Uint32Array;
}

/**
 * Drops a reading resent after a reconnect: same device and `seq` as one seen in the last
 * `windowMs` and within the last 1,024 sequence numbers. A device that restarted its counter is
 * told apart from a resend two ways: a seq far below the highest seen (a reboot from 0), or a device
 * timestamp newer than any seen before (a resend carries the original's time). About 150 bytes a
 * device that sends `seq`; devices that send none are not tracked.
 */
export class Dedup {
  private readonly devices = new Map<string, Seen>();
  dropped = 0;

  constructor(private readonly windowMs = 600_000) {}

  /** Records the reading and says whether it is a resend of one already taken. */
  isDuplicate(deviceId: string, seq: number, ts: number | undefined, now: number): boolean {
    let s = this.devices.get(deviceId);
    if (!s || now - s.at > this.windowMs || seq <= s.max - WINDOW) {
      s ??= { max: 0, maxTs: 0, at: 0, bits: new Uint32Array(WORDS) };
      this.reset(s, seq);
      this.devices.set(deviceId, s);
    } else if (seq > s.max) {
      clearRange(s.bits, s.max + 1, seq);
      s.max = seq;
    } else if (has(s.bits, seq)) {
      if (ts === undefined || ts <= s.maxTs) {
        s.at = now;
        this.dropped++;
        return true;
      }
      this.reset(s, seq); // a new counter: newer than anything this device sent before
    }
    set(s.bits, seq);
    s.at = now;
    if (ts !== undefined && ts > s.maxTs) s.maxTs = ts;
    return false;
  }

  /** Forgets devices silent for longer than the window (called now and then: memory stays bounded by active devices). */
  sweep(now: number): void {
    for (const [id, s] of this.devices) if (now - s.at > this.windowMs) this.devices.delete(id);
  }

  get size(): number {
    return this.devices.size;
  }

  private reset(s: Seen, seq: number): void {
    s.bits.fill(0);
    s.max = seq;
    s.maxTs = 0;
  }
}

const word = (seq: number) => Math.floor(seq / 32) % WORDS;
const bit = (seq: number) => 1 << seq % 32;
const has = (bits: Uint32Array, seq: number) => (bits[word(seq)]! & bit(seq)) !== 0;
const set = (bits: Uint32Array, seq: number) => void (bits[word(seq)]! |= bit(seq));

/** Forgets seqs from..to (the window moving forward): whole words at a time, so a jump costs at most 32 steps. */
function clearRange(bits: Uint32Array, from: number, to: number): void {
  if (to - from + 1 >= WINDOW) {
    bits.fill(0);
    return;
  }
  for (let q = from; q <= to; ) {
    const w = word(q);
    const lo = q % 32;
    const hi = Math.min(31, lo + (to - q));
    // Bits lo..hi of this word.
    const mask = hi - lo === 31 ? 0xffffffff : ((1 << (hi - lo + 1)) - 1) << lo;
    bits[w]! &= ~mask;
    q += hi - lo + 1;
  }
}
