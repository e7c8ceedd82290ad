import { AppendLog, type AppendLogStatus } from '../core/append-log.ts';
import type { DeadLetter } from '../core/store/dead-letters.ts';

/** A dead letter on its way to the store, with its journal position once it has one. */
export type JournaledDeadLetter = DeadLetter & { lsn?: number };

/** A valid device message as it came: replayed through validation again (with the same clock). */
export interface JournaledMessage {
  deviceId: string;
  type: string;
  kind: 'telemetry' | 'event';
  /** The server time validation used (ts plausibility): replaying gives the same reading. */
  at: number;
  payload: Buffer;
}

export type JournalEntry = { kind: 'message'; message: JournaledMessage } | { kind: 'dead_letter'; letter: JournaledDeadLetter };

const TAB = 0x09;

/**
 * On disk, after the record's LSN and length: `M\t<device>\t<type>\t<kind>\t<at>\t<payload bytes>` for
 * a valid message (its payload as the device sent it: nothing is serialized on the broker's thread),
 * `D\t<JSON>` for a dead letter.
 */
function parse(body: Buffer): JournalEntry {
  if (body[0] === 0x44 /* D */) {
    const d = JSON.parse(body.toString('utf8', 2)) as Omit<DeadLetter, 'at'> & { at: number };
    return { kind: 'dead_letter', letter: { ...d, at: new Date(d.at) } };
  }
  if (body[0] !== 0x4d /* M */) throw new Error('not a journal entry');
  const fields: string[] = [];
  let at = 2;
  for (let i = 0; i < 4; i++) {
    const tab = body.indexOf(TAB, at);
    if (tab < 0) throw new Error('not a journal entry');
    fields.push(body.toString('utf8', at, tab));
    at = tab + 1;
  }
  const [deviceId, type, kind, time] = fields as [string, string, 'telemetry' | 'event', string];
  return { kind: 'message', message: { deviceId, type, kind, at: Number(time), payload: body.subarray(at) } };
}

/**
 * The ingest journal: every message ingest takes (valid readings and dead letters) is appended here
 * before the device is acknowledged, with group commit (core/append-log.ts). The sinks write from
 * memory as before; after a crash, whatever the journal holds beyond a sink's checkpoint is replayed
 * into it, exactly once for the store (its checkpoint is written with its rows). Segments are
 * released once every consumer has passed them and the store has made its writes durable.
 */
export class IngestJournal {
  private constructor(private readonly log: AppendLog) {}

  static async open(dir: string, opts: { fsync: boolean }): Promise<{ journal: IngestJournal; entries: AsyncGenerator<{ lsn: number; value: JournalEntry }> }> {
    const { log, records } = await AppendLog.open(dir, { fsync: opts.fsync }, parse);
    return { journal: new IngestJournal(log), entries: records };
  }

  /** Appends a valid message as it came; the promise settles once it is on disk. */
  message(m: JournaledMessage): { lsn: number; durable: Promise<void> } {
    return this.log.append(`M\t${m.deviceId}\t${m.type}\t${m.kind}\t${m.at}\t`, m.payload);
  }

  deadLetter(d: JournaledDeadLetter): Promise<void> {
    const { lsn, durable } = this.log.append(`D\t${JSON.stringify({ ...d, at: d.at.getTime() })}`);
    d.lsn = lsn;
    return durable;
  }

  /** Never hands out an LSN at or below one a consumer has already recorded (a journal removed by hand). */
  skipTo(lsn: number): void {
    this.log.skipTo(lsn);
  }

  release(upTo: number): number {
    return this.log.release(upTo);
  }

  /** The LSN of the last record appended. */
  get head(): number {
    return this.log.next - 1;
  }

  status(): AppendLogStatus {
    return this.log.status();
  }

  flush(): Promise<void> {
    return this.log.flush();
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
