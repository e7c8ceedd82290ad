import { randomUUID } from 'node:crypto';
import type { Placement } from '../core/directory.ts';
import type { Logger } from '../core/logger.ts';
import type { Queryable } from '../core/store/db.ts';
import type { AlarmRecord } from './alarm.ts';
import type { AlarmWriter } from './alarm-writer.ts';
import type { Clock } from './clock.ts';
import { loadWaitingCommands } from './command-store.ts';
import { Deadlines, type Schedulable } from './deadlines.ts';

interface WaitingCommand extends Schedulable {
  id: string;
  deviceId: string;
}

/** An ack from a device, as ingest validated it. */
export interface CommandAck {
  id: string;
  ok: boolean;
  [k: string]: unknown;
}

/**
 * Commands to devices (hold the elevator door): published at once, recorded on the alarm behind
 * it, and answered by the device's `cmd/ack` or recorded as unanswered after the timeout.
 */
export class Downlink {
  private readonly waiting = new Map<string, WaitingCommand>();
  private readonly deadlines: Deadlines<WaitingCommand>;
  readonly counters = { sent: 0, answered: 0, timedOut: 0 };

  constructor(
    private readonly o: {
      clock: Clock;
      log: Logger;
      writer: AlarmWriter;
      publish(topic: string, payload: string, opts: { qos: 0 | 1 }): Promise<void>;
      /** How long a device has to answer before the command is recorded as unanswered. */
      timeoutMs: number;
    },
  ) {
    this.deadlines = new Deadlines(o.clock, (c, now) => this.onDue(c, now));
  }

  /** Commands sent before the last stop and not yet answered: their timeouts run on. */
  async resume(db: Queryable): Promise<void> {
    for (const c of await loadWaitingCommands(db)) this.wait(c.id, c.deviceId, c.sentAt + this.o.timeoutMs);
  }

  send(p: Placement, alarm: AlarmRecord, name: string, params: Record<string, unknown>, now: number): void {
    const id = `cmd-${randomUUID()}`;
    const { deviceId, type } = p;
    // Published before anything is written: the door is held now, the record follows.
    this.o.publish(`v1/${type}/${deviceId}/cmd`, JSON.stringify({ id, name, params, ts: now }), { qos: 1 }).catch((err: Error) =>
      this.o.log.error({ err, deviceId, command: name, commandId: id }, 'command publish failed'),
    );
    this.counters.sent++;
    this.o.writer.command({ id, alarm, deviceId, name, params, sentAt: now });
    this.wait(id, deviceId, now + this.o.timeoutMs);
  }

  /** A device's answer (`cmd/ack`). */
  ack(deviceId: string, ack: CommandAck): void {
    const w = this.waiting.get(ack.id);
    if (w && w.deviceId === deviceId) {
      this.waiting.delete(ack.id);
      w.due = undefined;
    }
    this.counters.answered++;
    this.o.writer.answer({ id: ack.id, deviceId, status: ack.ok ? 'acked' : 'failed', at: this.o.clock.now(), answer: ack });
  }

  get size(): number {
    return this.waiting.size;
  }

  close(): void {
    this.deadlines.close();
  }

  private wait(id: string, deviceId: string, due: number): void {
    const w: WaitingCommand = { id, deviceId, due };
    this.waiting.set(id, w);
    this.deadlines.update(w);
  }

  private onDue(w: WaitingCommand, now: number): void {
    if (!this.waiting.delete(w.id)) return;
    w.due = undefined;
    this.counters.timedOut++;
    this.o.writer.answer({ id: w.id, deviceId: w.deviceId, status: 'timeout', at: now });
  }
}
