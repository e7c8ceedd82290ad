/**
 * Watches the raw bytes of one MQTT connection and reports a packet whose declared size exceeds the
 * limit as soon as its fixed header arrives, before the parser buffers the body. Stock Aedes
 * (mqtt-packet) buffers any declared length: a 10 MB CONNECT is read whole and accepted.
 *
 * It only reads fixed headers and skips bodies by arithmetic, so its cost is per packet, not per byte.
 */
export class PacketGuard {
  /** Body bytes of the current packet still to skip. */
  private skip = 0;
  /** Remaining-length bytes read so far in the current header; -1 before the type byte. */
  private lenBytes = -1;
  private length = 0;
  private multiplier = 1;

  constructor(private readonly maxPacketBytes: number) {}

  /**
   * Feeds a chunk; returns a violation, or undefined when all is well so far. With `maxPackets`,
   * scanning stops at the packet boundary after that many whole packets and `cut` says where: the
   * caller hands on only that much and puts the rest back (see PlatformBroker.handle).
   */
  scan(buf: Buffer, maxPackets = Infinity): { reason: 'packet_too_large'; declaredBytes: number } | { reason: 'malformed_length' } | { cut: number } | undefined {
    let i = 0;
    const n = buf.length;
    let whole = 0;
    while (i < n) {
      if (whole >= maxPackets && this.skip === 0 && this.lenBytes === -1) return { cut: i };
      if (this.skip > 0) {
        const step = Math.min(this.skip, n - i);
        this.skip -= step;
        i += step;
        if (this.skip === 0) whole++;
        continue;
      }
      if (this.lenBytes === -1) {
        i++; // packet type and flags
        this.lenBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      const byte = buf[i++]!;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lenBytes++;
      if (byte & 0x80) {
        if (this.lenBytes >= 4) return { reason: 'malformed_length' };
        continue;
      }
      const total = 1 + this.lenBytes + this.length;
      if (total > this.maxPacketBytes) return { reason: 'packet_too_large', declaredBytes: total };
      this.skip = this.length;
      this.lenBytes = -1;
      if (this.length === 0) whole++;
    }
    return undefined;
  }
}
