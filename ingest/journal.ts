import { AppendLog, type AppendLogStatus } from '../core/append-log.ts';
import type { DeadLetter } from '../core/store/dead-letters.ts';
import type { Reading } from '../core/store/readings.ts';

/** A dead letter on its way to the store, with its journal position once it has one. */
export type JournaledDeadLetter = DeadLetter & { lsn?: number };

export type JournalEntry = { kind: 'reading'; reading: Reading } | { kind: 'dead_letter'; letter: JournaledDeadLetter };

/** On disk: `{"r": reading}` or `{"d": dead letter, at in ms}`, one line each, after its LSN. */
function parse(text: string): JournalEntry {
  const o = JSON.parse(text) as { r?: Reading; d?: Omit<DeadLetter, 'at'> & { at: number } };
  if (o.r) return { kind: 'reading', reading: o.r };
  if (o.d) return { kind: 'dead_letter', letter: { ...o.d, at: new Date(o.d.at) } };
  throw new Error('not a journal entry');
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

  /** Appends a reading and gives it its LSN; the promise settles once it is on disk. */
  reading(r: Reading): Promise<void> {
    const { lsn, durable } = this.log.append(`{"r":${JSON.stringify(r)}}`);
    r.lsn = lsn;
    return durable;
  }

  deadLetter(d: JournaledDeadLetter): Promise<void> {
    const { lsn, durable } = this.log.append(`{"d":${JSON.stringify({ ...d, at: d.at.getTime() })}}`);
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

  get next(): number {
    return this.log.next;
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
