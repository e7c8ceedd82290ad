import type { BrokerHooks, DeviceMessage, Judgement, Refusal } from '../broker/broker.ts';
import { devicePrefix } from '../broker/topics.ts';
import type { Db } from '../core/store/db.ts';
import type { Logger } from '../core/logger.ts';
import { LogThrottle } from '../core/log-throttle.ts';
import { insertDeadLetters } from '../core/store/dead-letters.ts';
import { consumerName, readCheckpoint } from '../core/store/checkpoints.ts';
import type { Reading } from '../core/store/readings.ts';
import type { Catalog } from '../devices/lib/catalog.ts';
import { validateAck, type Ack } from './ack.ts';
import { IngestCounters } from './counters.ts';
import { DeadLetterRetention, type RetentionOptions } from './dead-letter-retention.ts';
import { Dedup } from './dedup.ts';
import { ingestProblems } from './health.ts';
import { IngestJournal, type JournaledDeadLetter } from './journal.ts';
import type { ReadingSink } from './sink.ts';
import { validateMessage } from './validate.ts';
import { WriteBuffer } from './write-buffer.ts';

export interface IngestOptions {
  catalog: Catalog;
  db: Db;
  log: Logger;
  sinks: ReadingSink[];
  maxPayloadBytes: number;
  /** Folder of the journal (DATA_DIR/journal). */
  journalDir: string;
  /** This node's name: its journal's marks in the store are its own (core/store/checkpoints.ts). */
  nodeId?: string;
  /** fdatasync every group commit (DATA_FSYNC): acknowledged survives a power cut, not only a crash. */
  journalFsync?: boolean;
  /** A resent (device, seq) within this long is stored once (INGEST_DEDUP_WINDOW_S). */
  dedupWindowMs?: number;
  deadLetterRetention: RetentionOptions;
  /** Health stays degraded this long after a sink refused a row (HEALTH_REJECTIONS_WINDOW_S). */
  rejectionWindowMs?: number;
  now?: () => number;
}

/** Dead letters keep this much of a raw payload: enough to see what was wrong, bounded. */
const DEAD_LETTER_PAYLOAD_BYTES = 1024;
/** Dead letters waiting for the store beyond this: QoS 1 senders wait, the rest are counted and dropped. */
const DEAD_LETTERS_HIGH_WATER = 10_000;
/** How often journal segments every consumer has passed are released. */
const RELEASE_EVERY_MS = 5_000;
const DEAD_LETTERS = 'dead-letters';

interface SinkLane {
  sink: ReadingSink;
  buffer: WriteBuffer<Reading>;
  /** The journal position its writes have reached. */
  upTo: number;
}

/**
 * Takes device messages from the broker in-process, validates them against the catalog, journals
 * them (ingest/journal.ts: a QoS 1 message is acknowledged once it is on disk), hands valid readings
 * to the sinks (batched) and to listeners (the rules service), and dead-letters the rest with a reason.
 */
const DEFAULT_SINK_BATCH = 5000;
/** Readings that may wait for a sink before producers are held: two full writes beyond the one being written, 10,000 at least. */
export const sinkHighWater = (maxBatch = DEFAULT_SINK_BATCH) => Math.max(10_000, 2 * maxBatch);

export class Ingest {
  readonly counters = new IngestCounters();
  private readonly lanes: SinkLane[];
  private readonly deadLetters: WriteBuffer<JournaledDeadLetter>;
  private deadLettersUpTo = 0;
  private readonly listeners: ((r: Reading) => void)[] = [];
  private readonly ackListeners: ((deviceId: string, ack: Ack) => void)[] = [];
  private readonly now: () => number;
  private readonly dedup: Dedup;
  private readonly throttle: LogThrottle;
  private readonly retention: DeadLetterRetention;
  private journal: IngestJournal | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private releasing: Promise<void> | undefined;

  private readonly deadLettersConsumer: string;

  constructor(private readonly opts: IngestOptions) {
    this.deadLettersConsumer = consumerName(DEAD_LETTERS, opts.nodeId);
    this.now = opts.now ?? Date.now;
    this.dedup = new Dedup(opts.dedupWindowMs);
    this.throttle = new LogThrottle(opts.log);
    this.retention = new DeadLetterRetention(opts.db, opts.log, opts.deadLetterRetention);
    this.lanes = opts.sinks.map((sink, i) => {
      sink.refused = (payload, err) => {
        this.counters.reject('sink_rejected');
        void this.deadLetter({ reason: 'sink_rejected', detail: `${sink.name}: ${err.message}`, payload });
      };
      const lane: SinkLane = {
        sink,
        upTo: 0,
        buffer: new WriteBuffer<Reading>(
          async (batch) => {
            const upTo = batch[batch.length - 1]!.lsn!;
            await sink.write(batch, upTo);
            lane.upTo = upTo;
            if (i === 0) this.counters.stored += batch.length;
          },
          {
            name: `sink:${sink.name}`, log: opts.log, maxBatch: sink.maxBatch ?? DEFAULT_SINK_BATCH, minBatch: sink.minBatch, flushMs: sink.gatherMs ?? 200, gather: sink.gatherMs !== undefined,
            highWater: sinkHighWater(sink.maxBatch),
            reject: (r, err) => this.sinkRejected(lane, r, err),
            rejectionWindowMs: opts.rejectionWindowMs,
          },
        ),
      };
      return lane;
    });
    this.deadLetters = new WriteBuffer<JournaledDeadLetter>(
      async (batch) => {
        const upTo = batch[batch.length - 1]!.lsn!;
        await insertDeadLetters(opts.db.background, batch, { consumer: this.deadLettersConsumer, lsn: upTo });
        this.deadLettersUpTo = upTo;
        this.retention.added(batch);
      },
      {
        name: DEAD_LETTERS, log: opts.log, maxBatch: 1000, flushMs: 500, highWater: DEAD_LETTERS_HIGH_WATER, rejectionWindowMs: opts.rejectionWindowMs,
        // Text is made storable before it is written (dead-letters.ts), so this is a last resort.
        reject: async (d, err) => {
          this.counters.deadLettersDropped++;
          this.throttle.error('dead_letter_refused', { err, deviceId: d.deviceId, reason: d.reason }, 'the store refused a dead letter; dropped');
          await insertDeadLetters(opts.db.background, [], { consumer: this.deadLettersConsumer, lsn: d.lsn! });
          this.deadLettersUpTo = d.lsn!;
        },
      },
    );
  }

  /**
   * Opens the journal and replays into each sink what it had not written before the last stop or
   * crash. Call before the broker takes connections.
   */
  async start(): Promise<void> {
    const { journal, entries } = await IngestJournal.open(this.opts.journalDir, { fsync: this.opts.journalFsync ?? true });
    this.journal = journal;
    for (const lane of this.lanes) lane.upTo = await lane.sink.checkpoint();
    this.deadLettersUpTo = await readCheckpoint(this.opts.db, this.deadLettersConsumer);
    journal.skipTo(Math.max(this.deadLettersUpTo, ...this.lanes.map((l) => l.upTo)));
    const replayed = { readings: 0, deadLetters: 0 };
    const now = this.now();
    for await (const { lsn, value } of entries) {
      if (value.kind === 'message') {
        const m = value.message;
        const v = validateMessage(this.opts.catalog.get(m.type), m.deviceId, m.kind, m.payload, m.at, this.opts.maxPayloadBytes);
        if (!v.ok) {
          // Only a catalog changed since: what was valid then is not now.
          if (this.lanes.some((l) => lsn > l.upTo)) void this.deadLetter({ reason: v.reason, detail: `after a restart: ${v.detail}`, deviceId: m.deviceId, topic: devicePrefix(m.type, m.deviceId) + m.kind, payload: m.payload });
          continue;
        }
        const r = v.reading;
        r.lsn = lsn;
        // What the device sent last, written or not: a resend after the crash is then a duplicate.
        this.isResend(r, now);
        for (const lane of this.lanes) {
          if (lsn <= lane.upTo) continue;
          replayed.readings++;
          await lane.buffer.add(r);
        }
      } else if (lsn > this.deadLettersUpTo) {
        value.letter.lsn = lsn;
        replayed.deadLetters++;
        await this.deadLetters.add(value.letter);
      }
    }
    if (replayed.readings || replayed.deadLetters) this.opts.log.info({ ...replayed, sinks: Object.fromEntries(this.lanes.map((l) => [l.sink.name, l.upTo])) }, 'journal replayed into the sinks');
    await this.retention.start();
    this.releaseTimer = setInterval(() => void this.release(), RELEASE_EVERY_MS).unref();
  }

  /** The hooks the broker calls. */
  hooks(): BrokerHooks {
    return {
      onDeviceMessage: (msg) => this.handleMessage(msg),
      onRefused: (r) => this.handleRefusal(r),
    };
  }

  /** Registers a listener for every valid reading (called synchronously, in arrival order). */
  onReading(listener: (r: Reading) => void): void {
    this.listeners.push(listener);
  }

  /** Registers a listener for devices' valid answers to commands. */
  onAck(listener: (deviceId: string, ack: Ack) => void): void {
    this.ackListeners.push(listener);
  }

  /**
   * One device message. For a QoS 1 message the judgement carries a promise that settles once it is
   * on disk (and the buffers have room): the broker sends the PUBACK then.
   */
  handleMessage(msg: DeviceMessage): Judgement {
    if (msg.kind === 'cmd/ack') return this.handleAck(msg);
    this.counters.received++;
    const now = this.now();
    const v = validateMessage(this.opts.catalog.get(msg.type), msg.deviceId, msg.kind, msg.payload, now, this.opts.maxPayloadBytes);
    if (!v.ok) return this.invalid(msg, v.reason, v.detail);
    const r = v.reading;
    if (this.isResend(r, now)) {
      this.counters.duplicates++;
      return 'duplicate';
    }
    if (r.serverTs) this.counters.serverTimestamped++;
    const { lsn, durable } = this.journal!.message({ deviceId: msg.deviceId, type: msg.type, kind: msg.kind, at: now, payload: msg.payload });
    r.lsn = lsn;
    let room: Promise<unknown> | undefined;
    for (const lane of this.lanes) {
      const w = lane.buffer.add(r);
      if (w) room = room ? Promise.all([room, w]) : w;
    }
    for (const l of this.listeners) {
      try {
        l(r);
      } catch (err) {
        this.opts.log.error({ err, deviceId: msg.deviceId, topic: msg.topic }, 'reading listener failed');
      }
    }
    return msg.qos > 0 || room ? { verdict: 'forward', durable: msg.qos > 0 ? durable : undefined, room } : 'forward';
  }

  private handleAck(msg: DeviceMessage): Judgement {
    const v = validateAck(msg.payload, this.opts.maxPayloadBytes);
    if (!v.ok) return this.invalid(msg, v.reason, v.detail);
    this.counters.acks++;
    for (const l of this.ackListeners) {
      try {
        l(msg.deviceId, v.ack);
      } catch (err) {
        this.opts.log.error({ err, deviceId: msg.deviceId, topic: msg.topic }, 'ack listener failed');
      }
    }
    return 'forward';
  }

  /** A message validation refused: dead-lettered, and the judgement says why (an Alink device is answered with it). */
  private invalid(msg: DeviceMessage, reason: string, detail: string): Judgement {
    this.counters.reject(reason);
    return { ...this.deadLetter({ reason, detail, deviceId: msg.deviceId, topic: msg.topic, payload: msg.payload }, msg.qos), verdict: 'invalid', reason, detail };
  }

  /** Broker refusals with a message or a device behind them become dead letters too. */
  handleRefusal(r: Refusal): void {
    this.counters.reject(r.reason);
    // Message-level refusals keep the message; failed logins are counted, not stored (a password
    // guesser must not be able to fill the table).
    if (r.topic !== undefined || r.payload !== undefined || r.reason === 'packet_too_large') void this.deadLetter({ reason: r.reason, detail: r.detail, deviceId: r.deviceId, topic: r.topic, payload: r.payload });
  }

  /**
   * Journals a dead letter and queues it for the store. For a QoS 1 message the judgement holds its
   * PUBACK until the letter is on disk (and the queue has room); anything else that finds the queue
   * full is counted and dropped (the flood limits keep that rare).
   */
  private deadLetter(d: { reason: string; detail?: string; deviceId?: string; topic?: string; payload?: Buffer | string }, qos?: number): { verdict: 'invalid'; durable: Promise<unknown>; room?: Promise<unknown> } | undefined {
    if (!qos && this.deadLetters.size >= DEAD_LETTERS_HIGH_WATER) {
      this.counters.deadLettersDropped++;
      this.throttle.warn('dead_letters_full', { deviceId: d.deviceId, reason: d.reason, waiting: this.deadLetters.size }, 'dead letters are not being written fast enough; dropped one');
      return undefined;
    }
    const payload = typeof d.payload === 'string' ? d.payload : d.payload?.subarray(0, DEAD_LETTER_PAYLOAD_BYTES).toString('utf8');
    const letter: JournaledDeadLetter = {
      at: new Date(this.now()),
      deviceId: d.deviceId ?? null,
      topic: d.topic ?? null,
      reason: d.reason,
      detail: d.detail ?? null,
      payload: payload ?? null,
      payloadBytes: typeof d.payload === 'string' ? Buffer.byteLength(d.payload) : d.payload?.length ?? 0,
    };
    const durable = this.journal!.deadLetter(letter);
    const room = this.deadLetters.add(letter);
    if (!qos) return undefined;
    return { verdict: 'invalid', durable, room: room ?? undefined };
  }

  /** A reading with a (device, seq) seen within the window: a resend (the device's own time, when it is plausible, tells a restarted counter). */
  private isResend(r: Reading, now: number): boolean {
    return r.seq !== undefined && this.dedup.isDuplicate(r.deviceId, r.seq, r.serverTs ? undefined : r.ts, now);
  }

  /** A reading a sink refused for its content: dead-lettered with the sink's error, then passed. */
  private async sinkRejected(lane: SinkLane, r: Reading, err: Error): Promise<void> {
    this.counters.reject('sink_rejected');
    const { lsn, ...reading } = r;
    const held = this.deadLetter({ reason: 'sink_rejected', detail: `${lane.sink.name}: ${err.message}`, deviceId: r.deviceId, topic: devicePrefix(r.type, r.deviceId) + r.kind, payload: JSON.stringify(reading) }, 1);
    await Promise.all([held?.durable, held?.room]);
    await lane.sink.write([], lsn!);
    lane.upTo = lsn!;
  }

  /**
   * Lets go of journal segments every consumer has passed, once the store has made what it took
   * durable (its writes reach the kernel at once, the disk only at a sync).
   */
  private release(): Promise<void> {
    return (this.releasing ??= (async () => {
      await undefined; // settles after the assignment, so the finally below always clears it
      try {
        if (!this.journal || this.journal.status().segments < 2) return;
        // A consumer with nothing waiting has taken in everything appended so far.
        const head = this.journal.head;
        const upTo = Math.min(this.deadLetters.size === 0 ? head : this.deadLettersUpTo, ...this.lanes.map((l) => (l.buffer.size === 0 ? head : l.upTo)));
        await this.opts.db.syncToDisk();
        const removed = this.journal.release(upTo);
        if (removed) this.opts.log.debug({ removed, upTo }, 'journal segments released');
      } catch (err) {
        this.throttle.error('journal_release_failed', { err }, 'releasing journal segments failed; kept');
      } finally {
        this.releasing = undefined;
      }
    })());
  }

  stats() {
    const now = Date.now();
    return {
      ...this.counters.snapshot(),
      pending: Object.fromEntries(this.lanes.map((l) => [l.sink.name, l.buffer.size])),
      sinks: Object.fromEntries(this.lanes.map((l) => [l.sink.name, { ...l.buffer.status(now), spooled: l.sink.backlog ?? 0 }])),
      deadLetters: { ...this.deadLetters.status(now), dropped: this.counters.deadLettersDropped, ...this.retention.status() },
      journal: this.journal?.status() ?? null,
    };
  }

  /** Why ingest is degraded right now (empty: it is not): health reports these. */
  problems(stats = this.stats()): string[] {
    return ingestProblems(stats);
  }

  /** Writes everything accepted so far. */
  async flush(): Promise<void> {
    await this.journal?.flush();
    await Promise.all([...this.lanes.map((l) => l.buffer.flush()), this.deadLetters.flush()]);
    for (const s of this.opts.sinks) await s.flush?.();
  }

  async close(): Promise<void> {
    if (this.releaseTimer) clearInterval(this.releaseTimer);
    this.retention.stop();
    await this.journal?.flush();
    await Promise.all([...this.lanes.map((l) => l.buffer.close()), this.deadLetters.close()]);
    for (const s of this.opts.sinks) await s.close?.();
    await this.releasing;
    await this.journal?.close();
    this.throttle.close();
  }
}
