import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import MemoryPersistence, { type ClientRef, type StoredPacket, type SubscriptionRecord } from 'aedes-persistence/asyncPersistence.js';
import { AppendLog, syncDir } from '../core/append-log.ts';
import type { Logger } from '../core/logger.ts';

const NOTHING_TO_DO: Promise<void> = Promise.resolve();

/** A packet as the log holds it: the payload in base64 (a PUBREL has none). */
type WirePacket = Omit<StoredPacket, 'payload'> & { payload?: string };

/** One change to the durable state, as logged. */
type Op =
  | { o: 'retain'; p: WirePacket }
  | { o: 'subscribe'; c: string; s: SubscriptionRecord[] }
  | { o: 'unsubscribe'; c: string; t: string[] }
  | { o: 'clean'; c: string }
  | { o: 'enqueue'; c: string[]; p: WirePacket }
  | { o: 'update'; c: string; p: WirePacket }
  | { o: 'clear'; c: string; m: number }
  | { o: 'incoming'; c: string; p: WirePacket }
  | { o: 'incomingDone'; c: string; m: number }
  | { o: 'cleanIncoming'; c: string }
  | { o: 'will'; c: string; p: WirePacket }
  | { o: 'willDone'; c: string };

interface Snapshot {
  lsn: number;
  retained: WirePacket[];
  clients: { id: string; subs: SubscriptionRecord[]; outgoing: WirePacket[]; incoming: WirePacket[]; will?: WirePacket }[];
}

export interface SessionStoreOptions {
  dir: string;
  log: Logger;
  /** QoS 1 messages kept for one client at most (MQTT_MAX_QUEUED_MESSAGES); beyond, new ones are dropped and counted. */
  maxQueued: number;
  /** fdatasync each group commit (as the ingest journal: DATA_FSYNC). */
  fsync?: boolean;
  /** The log is folded into a snapshot once it holds this much. */
  compactBytes?: number;
}

const toWire = (p: StoredPacket): WirePacket => ({ ...p, payload: p.payload === undefined ? undefined : Buffer.from(p.payload as Buffer | string).toString('base64') });
const fromWire = (p: WirePacket): StoredPacket => ({ ...p, payload: (p.payload === undefined ? undefined : Buffer.from(p.payload, 'base64')) as Buffer });
const ref = (id: string): ClientRef => ({ id });
const uniqueClients = <S extends { clientId: string }>(subs: S[]): S[] => (subs.length < 2 ? subs : [...new Map(subs.map((s) => [s.clientId, s])).values()]);

/**
 * The broker's sessions on disk: an aedes-persistence implementation that keeps aedes' in-memory
 * store (its matching, its queues) and logs every change to what must outlive the process — retained
 * messages, the subscriptions and queued QoS 1/2 messages of clean=false clients (Node-RED, bridges),
 * wills — in an append-only log with group commit (core/append-log.ts), folded into a snapshot now
 * and then. A client is told a change is done (SUBACK, the publisher's PUBACK, CONNACK) only once
 * it is on disk, so a `kill -9` loses nothing a client was told was kept; progress notes (a message
 * id assigned, a PUBACK received) are not waited for: lost, they mean a redelivery, not a loss.
 * Clean sessions (every device) cost nothing here.
 */
export class SessionStore extends MemoryPersistence {
  private journal: AppendLog | undefined;
  private replaying = false;
  private readonly retained = new Map<string, WirePacket>();
  private readonly wills = new Map<string, WirePacket>();
  private readonly incoming = new Map<string, Map<number, WirePacket>>();
  /** Clients with durable state (subscriptions, queue, incoming, will). */
  private readonly known = new Set<string>();
  private readonly queued = new Map<string, number>();
  private snapshotLsn = 0;
  private compacting = false;
  private bytesAtSnapshot = 0;
  /** Deliveries the broker refused (see notForwarded); weak, as the packets are aedes'. */
  private readonly refusedDeliveries = new WeakSet<object>();
  /** QoS 1 messages not queued because their client's queue was full. */
  dropped = 0;

  constructor(private readonly opts: SessionStoreOptions) {
    super();
  }

  override async setup(broker: unknown): Promise<void> {
    await super.setup(broker);
    const snapFile = this.snapshotFile();
    this.replaying = true;
    try {
      mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
      if (existsSync(snapFile)) for (const op of this.fromSnapshot(JSON.parse(readFileSync(snapFile, 'utf8')) as Snapshot)) await this.apply(op);
      const { log, records } = await AppendLog.open(path.join(this.opts.dir, 'log'), { fsync: this.opts.fsync ?? true, segmentBytes: 8 * 1024 * 1024 }, (body) => JSON.parse(body.toString('utf8')) as Op);
      log.skipTo(this.snapshotLsn);
      let applied = 0;
      for await (const { lsn, value } of records) {
        if (lsn <= this.snapshotLsn) continue;
        await this.apply(value);
        applied++;
      }
      this.journal = log;
      if (applied || this.snapshotLsn) this.opts.log.info({ clients: this.known.size, retained: this.retained.size, changes: applied }, 'broker sessions restored');
    } finally {
      this.replaying = false;
    }
  }

  status() {
    return { clients: this.known.size, retained: this.retained.size, queued: [...this.queued.values()].reduce((a, b) => a + b, 0), dropped: this.dropped, log: this.journal?.status() ?? null };
  }

  /** Retained messages whose topic matches `filter` (the broker's own view at start). */
  retainedMatching(test: (topic: string) => boolean): StoredPacket[] {
    return [...this.retained.values()].filter((p) => test(p.topic)).map(fromWire);
  }

  override async storeRetained(packet: StoredPacket): Promise<void> {
    await super.storeRetained(packet);
    const wire = toWire(packet);
    if (wire.payload === '') this.retained.delete(packet.topic);
    else this.retained.set(packet.topic, wire);
    await this.log({ o: 'retain', p: wire });
  }

  override async addSubscriptions(client: ClientRef, subs: SubscriptionRecord[]): Promise<void> {
    await super.addSubscriptions(client, subs);
    this.known.add(client.id);
    await this.log({ o: 'subscribe', c: client.id, s: subs.map(({ topic, qos, rh, rap, nl }) => ({ topic, qos, rh, rap, nl })) });
  }

  override async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    await super.removeSubscriptions(client, topics);
    await this.log({ o: 'unsubscribe', c: client.id, t: topics });
  }

  override async cleanSubscriptions(client: ClientRef): Promise<void> {
    await super.cleanSubscriptions(client);
    if (this.known.has(client.id)) await this.log({ o: 'clean', c: client.id });
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet);
  }

  /**
   * Aedes calls this for every QoS 1 publish, with the offline persistent sessions subscribed to
   * it: most often none, answered without an async function's promise or an array a message.
   */
  override outgoingEnqueueCombi(subs: { clientId: string }[], packet: StoredPacket): Promise<void> {
    return subs.length === 0 ? NOTHING_TO_DO : this.enqueueOffline(subs, packet);
  }

  private async enqueueOffline(subs: { clientId: string }[], packet: StoredPacket): Promise<void> {
    // One copy per client, as it gets one live delivery: aedes lists a client once per matching
    // subscription (`a/#` and `a/+`), and a second copy is never sent nor cleared.
    // A client away for long with a busy subscription keeps at most maxQueued (Mosquitto's max_queued_messages).
    const room = uniqueClients(subs).filter((s) => (this.queued.get(s.clientId) ?? 0) < this.opts.maxQueued);
    this.dropped += subs.length - room.length;
    if (room.length === 0) return;
    await super.outgoingEnqueueCombi(room, packet);
    for (const s of room) {
      this.queued.set(s.clientId, (this.queued.get(s.clientId) ?? 0) + 1);
      this.known.add(s.clientId);
    }
    await this.log({ o: 'enqueue', c: room.map((s) => s.clientId), p: toWire(packet) });
  }

  override async outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
    await super.outgoingUpdate(client, packet);
    if (client.clean === false || this.queued.has(client.id)) void this.log({ o: 'update', c: client.id, p: toWire(packet) }, false);
  }

  /**
   * The broker would not forward `packet` to a client with a persistent session (a subscriber
   * backed up, a dead-lettered payload): aedes then clears the client's copy of it, with no message
   * id (it was never sent).
   */
  notForwarded(packet: object): void {
    this.refusedDeliveries.add(packet);
  }

  override async outgoingClearMessageId(client: ClientRef, packet: { messageId?: number; brokerId?: string; brokerCounter?: number }): Promise<StoredPacket | undefined> {
    if (packet.messageId === undefined) {
      // Aedes clears with no message id a delivery it did not make, and its store removes the
      // queue's first unsent message, whichever it is. Either the broker refused this one (its copy
      // is found by number, marked and cleared), or it is the second of two overlapping
      // subscriptions, deduplicated: the first delivery is under way and needs the copy.
      if (!this.refusedDeliveries.has(packet) || packet.brokerCounter === undefined) return undefined;
      const mark = -packet.brokerCounter; // never a message id (1–65535)
      try {
        await this.outgoingUpdate(client, { ...packet, messageId: mark } as StoredPacket);
      } catch {
        return undefined; // no copy (the queue was full): nothing to clear
      }
      return this.outgoingClearMessageId(client, { messageId: mark });
    }
    const removed = await super.outgoingClearMessageId(client, packet);
    if (removed) {
      const n = (this.queued.get(client.id) ?? 1) - 1;
      if (n > 0) this.queued.set(client.id, n);
      else this.queued.delete(client.id);
      void this.log({ o: 'clear', c: client.id, m: packet.messageId }, false);
    }
    return removed;
  }

  override async incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    await super.incomingStorePacket(client, packet);
    if (client.clean !== false && !this.replaying) return;
    let m = this.incoming.get(client.id);
    if (!m) this.incoming.set(client.id, (m = new Map()));
    const wire = toWire(packet);
    m.set(packet.messageId!, wire);
    this.known.add(client.id);
    await this.log({ o: 'incoming', c: client.id, p: wire });
  }

  override async incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void> {
    await super.incomingDelPacket(client, packet);
    if (this.incoming.get(client.id)?.delete(packet.messageId!)) void this.log({ o: 'incomingDone', c: client.id, m: packet.messageId! }, false);
  }

  override async cleanIncoming(client: ClientRef): Promise<void> {
    await super.cleanIncoming(client);
    if (this.incoming.delete(client.id)) await this.log({ o: 'cleanIncoming', c: client.id });
  }

  override async putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    const brokerId = packet.brokerId;
    await super.putWill(client, packet);
    // Replayed, a will keeps the broker it was left with: aedes publishes the wills of brokers that
    // are gone, which is what a crash made of the old one.
    if (this.replaying && brokerId) packet.brokerId = brokerId;
    const wire = toWire(packet);
    this.wills.set(client.id, wire);
    this.known.add(client.id);
    await this.log({ o: 'will', c: client.id, p: wire });
  }

  override async delWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const will = await super.delWill(client);
    if (this.wills.delete(client.id)) void this.log({ o: 'willDone', c: client.id }, false);
    return will;
  }

  override async destroy(): Promise<void> {
    const journal = this.journal;
    this.journal = undefined; // changes after this (clients still disconnecting) are not kept
    await journal?.close();
    await super.destroy();
  }

  /** Appends a change (not while replaying); `wait`: resolve only once it is on disk. */
  private async log(op: Op, wait = true): Promise<void> {
    if (this.replaying || !this.journal) return;
    const { durable } = this.journal.append(JSON.stringify(op));
    if (this.journal.written - this.bytesAtSnapshot > (this.opts.compactBytes ?? 32 * 1024 * 1024)) void durable.then(() => this.compact());
    if (wait) await durable;
    else durable.catch((err: Error) => this.opts.log.error({ err }, 'writing broker sessions failed'));
  }

  /** Replays one logged change through aedes' own store. */
  private async apply(op: Op): Promise<void> {
    try {
      switch (op.o) {
        case 'retain':
          return await this.storeRetained(fromWire(op.p));
        case 'subscribe':
          return await this.addSubscriptions(ref(op.c), op.s);
        case 'unsubscribe':
          return await this.removeSubscriptions(ref(op.c), op.t);
        case 'clean':
          return await this.cleanSubscriptions(ref(op.c));
        case 'enqueue':
          return await this.outgoingEnqueueCombi(op.c.map((clientId) => ({ clientId })), fromWire(op.p));
        case 'update':
          return await this.outgoingUpdate(ref(op.c), fromWire(op.p));
        case 'clear':
          return void (await this.outgoingClearMessageId(ref(op.c), { messageId: op.m }));
        case 'incoming':
          return await this.incomingStorePacket(ref(op.c), fromWire(op.p));
        case 'incomingDone':
          return await this.incomingDelPacket(ref(op.c), { messageId: op.m });
        case 'cleanIncoming':
          return await this.cleanIncoming(ref(op.c));
        case 'will':
          return await this.putWill(ref(op.c), fromWire(op.p));
        case 'willDone':
          return void (await this.delWill(ref(op.c)));
      }
    } catch {
      // A change that no longer applies (an update of a packet already cleared): nothing to restore.
    }
  }

  /** A snapshot as the changes that rebuild it, and where in the log it stands. */
  private fromSnapshot(snap: Snapshot): Op[] {
    this.snapshotLsn = snap.lsn;
    const ops: Op[] = snap.retained.map((p) => ({ o: 'retain', p }));
    for (const c of snap.clients) {
      if (c.subs.length) ops.push({ o: 'subscribe', c: c.id, s: c.subs });
      for (const p of c.outgoing) ops.push({ o: 'enqueue', c: [c.id], p }, ...(p.messageId !== undefined ? [{ o: 'update' as const, c: c.id, p }] : []));
      for (const p of c.incoming) ops.push({ o: 'incoming', c: c.id, p });
      if (c.will) ops.push({ o: 'will', c: c.id, p: c.will });
    }
    return ops;
  }

  /**
   * Folds the log into a snapshot: the state as of the last logged change, taken in one turn (aedes'
   * store copies a client's queue when asked for it), written to a new file, fsynced and renamed
   * over the old one; then the log segments it covers are deleted.
   */
  private async compact(): Promise<void> {
    if (this.compacting || !this.journal) return;
    this.compacting = true;
    try {
      const lsn = this.journal.next - 1;
      const clients = [...this.known].map((id) => ({ id, subs: super.subscriptionsByClient(ref(id)), outgoing: super.outgoingStream(ref(id)) }));
      const snap: Snapshot = { lsn, retained: [...this.retained.values()], clients: [] };
      const wills = new Map(this.wills);
      const incoming = new Map([...this.incoming].map(([id, m]) => [id, [...m.values()]]));
      for (const c of clients) {
        const subs = await c.subs;
        const outgoing: WirePacket[] = [];
        for await (const p of c.outgoing) outgoing.push(toWire(p as StoredPacket));
        const entry = { id: c.id, subs, outgoing, incoming: incoming.get(c.id) ?? [], will: wills.get(c.id) };
        if (subs.length || outgoing.length || entry.incoming.length || entry.will) snap.clients.push(entry);
        else this.known.delete(c.id);
      }
      const file = this.snapshotFile();
      const tmp = `${file}.tmp`;
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify(snap));
        if (this.opts.fsync ?? true) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
      syncDir(this.opts.dir);
      this.snapshotLsn = lsn;
      this.journal.release(lsn);
      this.bytesAtSnapshot = this.journal.written;
      this.opts.log.debug({ lsn, clients: snap.clients.length, retained: snap.retained.length }, 'broker sessions compacted');
    } catch (err) {
      this.opts.log.error({ err }, 'compacting broker sessions failed; the log is kept');
    } finally {
      this.compacting = false;
    }
  }

  private snapshotFile(): string {
    return path.join(this.opts.dir, 'snapshot.json');
  }
}
