import type { BrokerHooks, DeviceMessage, Refusal } from '../broker/broker.ts';
import type { Db } from '../core/store/db.ts';
import type { Logger } from '../core/logger.ts';
import { insertDeadLetters, type DeadLetter } from '../core/store/dead-letters.ts';
import type { Reading } from '../core/store/readings.ts';
import type { Catalog } from '../devices/lib/catalog.ts';
import { validateAck, type Ack } from './ack.ts';
import { IngestCounters } from './counters.ts';
import type { ReadingSink } from './sink.ts';
import { validateMessage } from './validate.ts';
import { WriteBuffer } from './write-buffer.ts';

export interface IngestOptions {
  catalog: Catalog;
  db: Db;
  log: Logger;
  sinks: ReadingSink[];
  maxPayloadBytes: number;
  now?: () => number;
}

/** Dead letters keep this much of the raw payload: enough to see what was wrong, bounded. */
const DEAD_LETTER_PAYLOAD_BYTES = 1024;

/**
 * Takes device messages from the broker in-process, validates them against the catalog, hands
 * valid readings to the sinks (batched) and to listeners (the rules service), and dead-letters the
 * rest with a reason.
 */
export class Ingest {
  readonly counters = new IngestCounters();
  private readonly buffers: WriteBuffer<Reading>[];
  private readonly deadLetters: WriteBuffer<DeadLetter>;
  private readonly listeners: ((r: Reading) => void)[] = [];
  private readonly ackListeners: ((deviceId: string, ack: Ack) => void)[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: IngestOptions) {
    this.now = opts.now ?? Date.now;
    this.buffers = opts.sinks.map(
      (sink, i) =>
        new WriteBuffer<Reading>(
          async (batch) => {
            await sink.write(batch);
            if (i === 0) this.counters.stored += batch.length;
          },
          { name: `sink:${sink.name}`, log: opts.log, maxBatch: sink.maxBatch ?? 5000, minBatch: sink.minBatch, flushMs: 200, highWater: 10_000 },
        ),
    );
    this.deadLetters = new WriteBuffer((batch) => insertDeadLetters(opts.db.background, batch), {
      name: 'dead-letters', log: opts.log, maxBatch: 1000, flushMs: 500, highWater: 10_000,
    });
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

  handleMessage(msg: DeviceMessage): boolean | Promise<boolean> {
    if (msg.kind === 'cmd/ack') return this.handleAck(msg);
    this.counters.received++;
    const v = validateMessage(this.opts.catalog.get(msg.type), msg.deviceId, msg.kind, msg.payload, this.now(), this.opts.maxPayloadBytes);
    if (!v.ok) {
      this.counters.reject(v.reason);
      this.deadLetter({ reason: v.reason, detail: v.detail, deviceId: msg.deviceId, topic: msg.topic, payload: msg.payload });
      return false;
    }
    if (v.reading.serverTs) this.counters.serverTimestamped++;
    let wait: Promise<void> | undefined;
    for (const b of this.buffers) {
      const w = b.add(v.reading);
      if (w) wait = wait ? wait.then(() => w) : w;
    }
    for (const l of this.listeners) {
      try {
        l(v.reading);
      } catch (err) {
        this.opts.log.error({ err, deviceId: msg.deviceId, topic: msg.topic }, 'reading listener failed');
      }
    }
    return wait ? wait.then(() => true) : true;
  }

  private handleAck(msg: DeviceMessage): boolean {
    const v = validateAck(msg.payload, this.opts.maxPayloadBytes);
    if (!v.ok) {
      this.counters.reject(v.reason);
      this.deadLetter({ reason: v.reason, detail: v.detail, deviceId: msg.deviceId, topic: msg.topic, payload: msg.payload });
      return false;
    }
    this.counters.acks++;
    for (const l of this.ackListeners) {
      try {
        l(msg.deviceId, v.ack);
      } catch (err) {
        this.opts.log.error({ err, deviceId: msg.deviceId, topic: msg.topic }, 'ack listener failed');
      }
    }
    return true;
  }

  /** Broker refusals with a message or a device behind them become dead letters too. */
  handleRefusal(r: Refusal): void {
    this.counters.reject(r.reason);
    // Message-level refusals keep the message; failed logins are counted, not stored (a password
    // guesser must not be able to fill the table).
    if (r.topic !== undefined || r.payload !== undefined || r.reason === 'packet_too_large') this.deadLetter({ reason: r.reason, detail: r.detail, deviceId: r.deviceId, topic: r.topic, payload: r.payload });
  }

  private deadLetter(d: { reason: string; detail?: string; deviceId?: string; topic?: string; payload?: Buffer }): void {
    void this.deadLetters.add({
      at: new Date(this.now()),
      deviceId: d.deviceId ?? null,
      topic: d.topic ?? null,
      reason: d.reason,
      detail: d.detail ?? null,
      payload: d.payload ? d.payload.subarray(0, DEAD_LETTER_PAYLOAD_BYTES).toString('utf8') : null,
      payloadBytes: d.payload?.length ?? 0,
    });
  }

  stats() {
    return { ...this.counters.snapshot(), pending: Object.fromEntries(this.opts.sinks.map((s, i) => [s.name, this.buffers[i]!.size])) };
  }

  /** Writes everything accepted so far. */
  async flush(): Promise<void> {
    await Promise.all([...this.buffers.map((b) => b.flush()), this.deadLetters.flush()]);
    for (const s of this.opts.sinks) await s.flush?.();
  }

  async close(): Promise<void> {
    await Promise.all([...this.buffers.map((b) => b.close()), this.deadLetters.close()]);
    for (const s of this.opts.sinks) await s.close?.();
  }
}
