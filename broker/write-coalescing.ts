import type { Writable } from 'node:stream';

/** Written at once when a turn's deliveries reach this much, so one turn never piles up a subscriber's buffer. */
const MAX_COALESCED_BYTES = 64 * 1024;

/**
 * One socket write per turn of the event loop for a subscriber, not one per delivery. mqtt-packet
 * corks the stream for each packet and uncorks it on the next tick, which made every delivery its
 * own writev system call (23% of the broker's thread at 50k msg/s, `npm run bench:profile`). Here
 * the uncorks wait until the turn's deliveries are written (at most one turn later) or until 64 KB
 * wait, and then go out together: QoS 0 to a wildcard subscriber went from 21 to 15 µs of broker
 * CPU per message (`npm run bench:broker`). Without the 64 KB bound a busy turn filled the
 * subscriber's whole buffer at once and its deliveries were shed.
 */
export function coalesceWrites(stream: Writable): void {
  const uncork = stream.uncork.bind(stream);
  let owed = 0;
  const flush = () => {
    for (; owed > 0; owed--) uncork();
  };
  stream.uncork = () => {
    if (owed++ === 0) setImmediate(flush);
    else if (stream.writableLength >= MAX_COALESCED_BYTES) flush();
  };
}
