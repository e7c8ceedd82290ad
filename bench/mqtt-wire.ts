/**
 * Just enough MQTT 3.1.1 on the wire for the load generators' devices: CONNECT, PUBLISH (QoS 0/1),
 * PINGREQ out; CONNACK, PUBACK, PINGRESP in. Thousands of simulated devices cost the generator a
 * socket and a few buffers each instead of a client library apiece, so on a 2-core machine the
 * generator takes less of the CPU the brokers under test need (its own CPU is still reported).
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
