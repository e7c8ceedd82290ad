/**
 * Just enough MQTT 3.1.1 on the wire for the load generators: devices send CONNECT, PUBLISH (QoS
 * 0/1) and PINGREQ and read CONNACK, PUBACK and PINGRESP; the wildcard subscriber sends SUBSCRIBE and
 * PUBACK and reads PUBLISH. Thousands of simulated devices cost the generator a socket and a few
 * buffers each instead of a client library apiece, and the subscriber reads a broker's stream
 * without a parser object per packet, so on a 2-core machine the generator takes less of the CPU
 * the brokers under test need (its own CPU is still reported).
 */
import net from 'node:net';

const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** CONNECT with a clean session; username and password when given. */
export function connectPacket(clientId: string, username?: string, password?: string, keepaliveS = 120): Buffer {
  const flags = 0x02 | (username ? 0x80 : 0) | (password ? 0x40 : 0);
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, flags, keepaliveS >> 8, keepaliveS & 0xff]), str(clientId), ...(username ? [str(username)] : []), ...(password ? [str(password)] : [])]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

export const PINGREQ = Buffer.from([0xc0, 0]);

/** PUBLISH; with QoS 1 a packet id (1–65535). */
export function publishPacket(topic: string, payload: string, qos: 0 | 1, packetId = 0): Buffer {
  const t = str(topic);
  const p = Buffer.from(payload);
  const len = t.length + (qos ? 2 : 0) + p.length;
  const head = Buffer.concat([Buffer.from([0x30 | (qos << 1)]), varint(len)]);
  const out = Buffer.allocUnsafe(head.length + len);
  head.copy(out, 0);
  t.copy(out, head.length);
  let o = head.length + t.length;
  if (qos) {
    out.writeUInt16BE(packetId, o);
    o += 2;
  }
  p.copy(out, o);
  return out;
}

export interface WireEvents {
  onConnack(returnCode: number): void;
  onPuback?(packetId: number): void;
  onPingresp?(): void;
}

/**
 * Splits what a broker sends a publishing device into packets (it sends such a device only
 * CONNACK, PUBACK and PINGRESP, all with one-byte lengths), keeping a packet cut between reads.
 */
export function wireReader(ev: WireEvents): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = undefined;
    let o = 0;
    while (o + 2 <= buf.length) {
      const len = buf[o + 1]!;
      if (o + 2 + len > buf.length) break;
      const type = buf[o]! >> 4;
      if (type === 2) ev.onConnack(buf[o + 3]!);
      else if (type === 4) ev.onPuback?.(buf.readUInt16BE(o + 2));
      else if (type === 13) ev.onPingresp?.();
      o += 2 + len;
    }
    if (o < buf.length) rest = buf.subarray(o);
  };
}

/** Opens a socket (TCP_NODELAY, optionally from a given loopback source address) and sends CONNECT; resolves at CONNACK 0. */
export function wireConnect(o: { port: number; host: string; localAddress?: string; clientId: string; username?: string; password?: string; timeoutMs?: number }, ev: Omit<WireEvents, 'onConnack'> = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port: o.port, host: o.host, localAddress: o.localAddress });
    sock.setNoDelay(true);
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      reject(new Error(why));
    };
    sock.setTimeout(o.timeoutMs ?? 60_000, () => fail('timeout'));
    sock.once('connect', () => sock.write(connectPacket(o.clientId, o.username, o.password)));
    sock.on('data', wireReader({
      ...ev,
      onConnack: (rc) => {
        if (rc !== 0) return fail(`CONNACK ${rc}`);
        settled = true;
        sock.setTimeout(0);
        resolve(sock);
      },
    }));
    sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    sock.on('close', () => fail('closed'));
  });
}

/** SUBSCRIBE to one filter (packet id 1). */
export function subscribePacket(filter: string, qos: 0 | 1): Buffer {
  const body = Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([qos])]);
  return Buffer.concat([Buffer.from([0x82]), varint(body.length), body]);
}

/**
 * Splits a broker's stream to a subscriber into packets (any length, cut anywhere between reads):
 * each PUBLISH's payload goes to `onPublish`, QoS 1 ones are acknowledged (one write per read).
 */
export function subscriberReader(sock: net.Socket, ev: { onConnack(rc: number): void; onSuback(): void; onPublish(payload: Buffer): void; onChunk?(): void }): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = undefined;
    const acks: number[] = [];
    let o = 0;
    for (;;) {
      // Fixed header: type and flags, then the remaining length in 1–4 bytes.
      let len = 0;
      let mul = 1;
      let i = o + 1;
      for (; i < buf.length && i < o + 5; i++) {
        len += (buf[i]! & 0x7f) * mul;
        mul *= 128;
        if (!(buf[i]! & 0x80)) break;
      }
      if (i >= buf.length || buf[i]! & 0x80) break; // length not all here yet
      const start = i + 1;
      if (start + len > buf.length) break;
      const type = buf[o]! >> 4;
      if (type === 3) {
        const qos = (buf[o]! >> 1) & 3;
        const topicEnd = start + 2 + buf.readUInt16BE(start);
        ev.onPublish(buf.subarray(topicEnd + (qos ? 2 : 0), start + len));
        if (qos) acks.push(buf.readUInt16BE(topicEnd));
      } else if (type === 2) ev.onConnack(buf[start + 1]!);
      else if (type === 9) ev.onSuback();
      o = start + len;
    }
    if (o < buf.length) rest = buf.subarray(o);
    if (acks.length) {
      const out = Buffer.allocUnsafe(acks.length * 4);
      acks.forEach((id, k) => out.writeUInt32BE(0x40020000 | id, k * 4));
      sock.write(out);
    }
    ev.onChunk?.();
  };
}

/** Connects a wildcard subscriber on the wire; resolves once its SUBSCRIBE is acknowledged. */
export function wireSubscriber(o: { port: number; host: string; clientId: string; username?: string; password?: string; filter: string; qos: 0 | 1 }, onPublish: (payload: Buffer) => void, onChunk?: () => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port: o.port, host: o.host });
    sock.setNoDelay(true);
    sock.once('connect', () => sock.write(connectPacket(o.clientId, o.username, o.password)));
    sock.on('data', subscriberReader(sock, {
      onConnack: (rc) => (rc === 0 ? sock.write(subscribePacket(o.filter, o.qos)) : reject(new Error(`subscriber CONNACK ${rc}`))),
      onSuback: () => resolve(sock),
      onPublish,
      onChunk,
    }));
    sock.on('error', reject);
  });
}
