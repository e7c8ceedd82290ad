import { describe, expect, it } from 'vitest';
import { scryptSync } from 'node:crypto';
import { generateSecret, hashSecret, verifySecret } from '../core/secrets.ts';
import { PacketGuard } from '../broker/packet-guard.ts';
import { devicePublishKind, filterCovers, filterMatches, hasForbiddenChars, isValidFilter, parseDeviceTopic } from '../broker/topics.ts';
import { LogThrottle } from '../core/log-throttle.ts';

describe('packet guard', () => {
  const publish = (bodyLen: number) => {
    // Remaining length as MQTT variable-length integer.
    const len: number[] = [];
    let x = bodyLen;
    do {
      let b = x % 128;
      x = Math.floor(x / 128);
      if (x > 0) b |= 0x80;
      len.push(b);
    } while (x > 0);
    return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.alloc(bodyLen, 0x61)]);
  };

  it('passes packets up to the limit across arbitrary chunking', () => {
    const stream = Buffer.concat([publish(10), publish(1000), publish(200_000), publish(0)]);
    for (const chunk of [1, 7, 4096, stream.length]) {
      const g = new PacketGuard(256 * 1024);
      for (let i = 0; i < stream.length; i += chunk) expect(g.scan(stream.subarray(i, i + chunk))).toBeUndefined();
    }
  });

  it('flags a packet over the limit from its header alone', () => {
    const g = new PacketGuard(256 * 1024);
    expect(g.scan(publish(10))).toBeUndefined();
    // Only the fixed header of a 10 MB packet: no body has arrived yet.
    expect(g.scan(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x05]))).toEqual({ reason: 'packet_too_large', declaredBytes: 1 + 4 + 10_485_760 });
  });

  it('cuts a chunk at the packet boundary after the given number of whole packets, across chunking', () => {
    const packets = [publish(10), publish(0), publish(300), publish(5), publish(40)];
    const stream = Buffer.concat(packets);
    const ends = packets.map((_, i) => Buffer.concat(packets.slice(0, i + 1)).length);
    // One chunk: the cut falls after the second whole packet; the rest, scanned again, cuts after two more.
    const g = new PacketGuard(1024);
    expect(g.scan(stream, 2)).toEqual({ cut: ends[1] });
    expect(g.scan(stream.subarray(ends[1]!), 2)).toEqual({ cut: ends[3]! - ends[1]! });
    expect(g.scan(stream.subarray(ends[3]!), 2)).toBeUndefined();
    // A packet split over two reads counts once, when it is whole.
    const h = new PacketGuard(1024);
    expect(h.scan(stream.subarray(0, ends[0]! + 1), 2)).toBeUndefined();
    expect(h.scan(stream.subarray(ends[0]! + 1), 2)).toEqual({ cut: ends[2]! - ends[0]! - 1 });
  });

  it('flags a remaining length longer than four bytes', () => {
    expect(new PacketGuard(1e9).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual({ reason: 'malformed_length' });
  });
});

describe('topics', () => {
  it('lets a device publish only its own telemetry, event and cmd/ack', () => {
    const p = 'v1/smoke-detector/d1/';
    expect(devicePublishKind(p, 'v1/smoke-detector/d1/telemetry')).toBe('telemetry');
    expect(devicePublishKind(p, 'v1/smoke-detector/d1/event')).toBe('event');
    expect(devicePublishKind(p, 'v1/smoke-detector/d1/cmd/ack')).toBe('cmd/ack');
    for (const t of ['v1/smoke-detector/d1/status', 'v1/smoke-detector/d1/cmd', 'v1/smoke-detector/d2/telemetry', 'v1/smoke-detector/d1/telemetry/x', 'v1/throw-camera/d1/telemetry', 'v1/smoke-detector/d10/telemetry'])
      expect(devicePublishKind(p, t), t).toBeUndefined();
  });

  it('parses device topics', () => {
    expect(parseDeviceTopic('v1/overflow-bin/b1-x/cmd/ack')).toEqual({ type: 'overflow-bin', deviceId: 'b1-x', kind: 'cmd/ack' });
    expect(parseDeviceTopic('v2/overflow-bin/b1/telemetry')).toBeUndefined();
    expect(parseDeviceTopic('v1/overflow-bin/b1/other')).toBeUndefined();
  });

  it('matches filters as MQTT-4.7 says', () => {
    expect(filterMatches('v1/+/+/status', 'v1/smoke-detector/d1/status')).toBe(true);
    expect(filterMatches('v1/#', 'v1/a/b/c')).toBe(true);
    expect(filterMatches('v1/#', 'v1')).toBe(true);
    expect(filterMatches('v1/+', 'v1/a/b')).toBe(false);
    expect(filterMatches('#', '$SYS/x')).toBe(false);
    expect(filterMatches('platform/alarms/#', 'platform/workitems/1')).toBe(false);
  });

  it('decides whether an allowed filter covers a requested one', () => {
    expect(filterCovers('v1/#', 'v1/+/+/telemetry')).toBe(true);
    expect(filterCovers('v1/+/+/telemetry', 'v1/smoke-detector/+/telemetry')).toBe(true);
    expect(filterCovers('v1/+/+/telemetry', 'v1/#')).toBe(false);
    expect(filterCovers('v1/smoke-detector/+/telemetry', 'v1/+/+/telemetry')).toBe(false);
    expect(filterCovers('platform/#', '#')).toBe(false);
    expect(filterCovers('#', '$SYS/#')).toBe(false);
  });

  it('validates filters and refuses U+0000 and U+FFFD', () => {
    expect(isValidFilter('a/+/b/#')).toBe(true);
    expect(isValidFilter('a/b#')).toBe(false);
    expect(isValidFilter('a/#/b')).toBe(false);
    expect(isValidFilter('a/x+')).toBe(false);
    expect(hasForbiddenChars('v1/a\u0000b')).toBe(true);
    expect(hasForbiddenChars(Buffer.from([0x76, 0x31, 0xc3, 0x28]).toString('utf8'))).toBe(true);
    expect(hasForbiddenChars('v1/烟感/d1')).toBe(false);
  });
});

describe('log throttle', () => {
  it('logs the first lines of a key per window and reports the rest once', () => {
    const lines: { fields: Record<string, unknown>; msg: string }[] = [];
    const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }), info: () => undefined } as never;
    let now = 0;
    const t = new LogThrottle(log, 3, 1000, () => now);
    for (let i = 0; i < 1000; i++) t.warn('refused:d1', { deviceId: 'd1' }, 'mqtt refused');
    t.warn('refused:d2', { deviceId: 'd2' }, 'mqtt refused');
    expect(lines).toHaveLength(4);
    now = 1500;
    t.sweep();
    expect(lines).toHaveLength(5);
    expect(lines[4]!.fields).toMatchObject({ deviceId: 'd1', suppressed: 997 });
    t.close();
  });
});

describe('secrets', () => {
  it('keeps generated secrets as SHA-256 digests and still verifies hashes in the older scrypt form', async () => {
    const secret = generateSecret();
    const stored = await hashSecret(secret);
    expect(stored).toMatch(/^sha256\$/);
    expect(stored).not.toContain(secret);
    expect(await verifySecret(secret, stored)).toBe(true);
    expect(await verifySecret(secret + 'x', stored)).toBe(false);
    // Written by an earlier release: scrypt$N$r$p$salt$hash.
    const salt = Buffer.from('0123456789abcdef');
    const key = scryptSync('legacy-secret', salt, 32, { N: 1024, r: 8, p: 1 });
    const legacy = `scrypt$1024$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(await verifySecret('legacy-secret', legacy)).toBe(true);
    expect(await verifySecret('wrong', legacy)).toBe(false);
    expect(await verifySecret(secret, 'md5$whatever')).toBe(false);
  });
});
