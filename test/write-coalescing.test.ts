import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites, MAX_COALESCED_BYTES } from '../broker/write-coalescing.ts';

/** A connected pair of loopback sockets: the broker's side and the subscriber's. */
async function socketPair(): Promise<{ server: net.Socket; client: net.Socket; close(): void }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => listener.once('connection', r));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  server.setNoDelay(true);
  return { server, client, close: () => (server.destroy(), client.destroy(), listener.close()) };
}

/** Counts the socket's system-call-level writes (Node's _writev and _write on the real socket). */
function countWrites(sock: net.Socket): { calls: number } {
  const n = { calls: 0 };
  const s = sock as unknown as { _writev: (...a: unknown[]) => unknown; _write: (...a: unknown[]) => unknown };
  const writev = s._writev.bind(sock);
  const write = s._write.bind(sock);
  s._writev = (...a) => (n.calls++, writev(...a));
  s._write = (...a) => (n.calls++, write(...a));
  return n;
}

const publish = (i: number, bytes = 100) => ({ cmd: 'publish' as const, topic: 'v1/smoke-detector/sd-1/telemetry', payload: Buffer.alloc(bytes, 48 + (i % 10)), qos: 0 as const, retain: false, dup: false });

async function receive(client: net.Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve) => {
    client.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= bytes) resolve(Buffer.concat(chunks));
    });
  });
}

let pair: Awaited<ReturnType<typeof socketPair>> | undefined;
afterEach(() => pair?.close());

describe("coalescing a subscriber's deliveries", () => {
  it('sends the packets of one turn in one write, intact and in order (mqtt-packet alone makes one write per packet)', async () => {
    const expected = Buffer.concat(Array.from({ length: 200 }, (_, i) => mqttPacket.generate(publish(i))));
    for (const coalesced of [false, true]) {
      pair = await socketPair();
      if (coalesced) coalesceWrites(pair.server);
      const writes = countWrites(pair.server);
      const got = receive(pair.client, expected.length);
      // As Aedes delivers: each packet in its own setImmediate callback of the same turn.
      for (let i = 0; i < 200; i++) setImmediate(() => mqttPacket.writeToStream(publish(i), pair!.server));
      expect((await got).equals(expected)).toBe(true);
      if (coalesced) expect(writes.calls).toBeLessThanOrEqual(2);
      else expect(writes.calls).toBeGreaterThan(100);
      pair.close();
      pair = undefined;
    }
  });

  it('writes at once when a turn holds MAX_COALESCED_BYTES or more, so a busy turn never fills the buffer', async () => {
    pair = await socketPair();
    coalesceWrites(pair.server);
    const writes = countWrites(pair.server);
    const packets = Array.from({ length: 40 }, (_, i) => publish(i, 4000));
    const expected = Buffer.concat(packets.map((p) => mqttPacket.generate(p)));
    const got = receive(pair.client, expected.length);
    let maxBuffered = 0;
    for (const p of packets)
      setImmediate(() => {
        mqttPacket.writeToStream(p, pair!.server);
        maxBuffered = Math.max(maxBuffered, pair!.server.writableLength);
      });
    expect((await got).equals(expected)).toBe(true);
    // 160 KB in one turn: out in pieces of about MAX_COALESCED_BYTES, never all held at once.
    expect(writes.calls).toBeGreaterThanOrEqual(Math.floor(expected.length / MAX_COALESCED_BYTES / 2));
    expect(maxBuffered).toBeLessThan(MAX_COALESCED_BYTES + 8 * 1024);
  });
});
