import { close, closeSync, createReadStream, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface AppendLogOptions {
  /** A segment is closed and a new one started once it holds this many bytes. */
  segmentBytes?: number;
  /** fdatasync after every group (the default): an acknowledged record survives a power cut, not only a crash. */
  fsync?: boolean;
}

export interface AppendLogStatus {
  segments: number;
  bytes: number;
  /** Records appended but not yet on disk. */
  waiting: number;
  commits: number;
  /** Commits that failed (the records in them were not acknowledged). */
  failures: number;
  lastError: string | null;
  /** Duration of the last commit (write + fdatasync), ms. */
  lastCommitMs: number;
}

interface Segment {
  file: string;
  firstLsn: number;
  bytes: number;
}

const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024;
const SEGMENT_RE = /^(\d{20})\.log$/;

/**
 * An append-only log of one-line records in numbered segment files, written with group commit:
 * records appended while one write + fdatasync is under way go together in the next, so the cost
 * of an fsync is shared by everything that arrived meanwhile (about 0.4 ms here, whatever the
 * number of records). `append` gives each record its log sequence number (LSN) and a promise that
 * settles once the record is on disk. Consumers remember the last LSN they have taken in; segments
 * wholly below every consumer's mark are released (deleted).
 *
 * A crash can leave at most a torn last line (never acknowledged: its commit had not returned);
 * reading stops there and the file is cut back to the last whole record.
 */
export class AppendLog {
  private readonly segments: Segment[] = [];
  private fd: number | undefined;
  private nextLsn: number;
  private group: string[] = [];
  /** LSN of the group's first record: a new segment is named after it. */
  private groupFirst = 0;
  private groupDone: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;
  private committing: Promise<void> | undefined;
  private closed = false;
  private readonly stats = { commits: 0, failures: 0, lastError: null as string | null, lastCommitMs: 0 };

  private constructor(private readonly dir: string, private readonly opts: Required<AppendLogOptions>, lastLsn: number) {
    this.nextLsn = lastLsn + 1;
  }

  /**
   * Opens (or creates) the log in `dir`. `parse` is applied to each record's text while reading;
   * a record it throws on in the last segment is a torn tail: the file is cut there.
   */
  static async open<T>(dir: string, opts: AppendLogOptions, parse: (text: string) => T): Promise<{ log: AppendLog; records: AsyncGenerator<{ lsn: number; value: T }> }> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = readdirSync(dir).filter((f) => SEGMENT_RE.test(f)).sort();
    const segments = files.map((f) => ({ file: path.join(dir, f), firstLsn: Number(SEGMENT_RE.exec(f)![1]), bytes: statSync(path.join(dir, f)).size }));
    // The last LSN on disk decides where new records go; finding it means reading the last segment.
    const last = segments[segments.length - 1];
    const lastLsn = (last && repairTail(last, parse)) ?? (last ? last.firstLsn - 1 : 0);
    const log = new AppendLog(dir, { segmentBytes: opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES, fsync: opts.fsync ?? true }, lastLsn);
    log.segments.push(...segments);
    const records = (async function* () {
      for (const seg of [...segments]) yield* readSegment(seg, parse);
    })();
    return { log, records };
  }

  /** The LSN the next record will get. */
  get next(): number {
    return this.nextLsn;
  }

  /** Hands out LSNs above `lsn` from now on (before the first append: see IngestJournal.skipTo). */
  skipTo(lsn: number): void {
    if (this.nextLsn <= lsn) this.nextLsn = lsn + 1;
  }

  /** Appends one record (one line of text, no newline in it); the promise settles once it is on disk. */
  append(text: string): { lsn: number; durable: Promise<void> } {
    if (this.closed) throw new Error('append log is closed');
    const lsn = this.nextLsn++;
    if (this.group.length === 0) this.groupFirst = lsn;
    this.group.push(`${lsn} ${text}\n`);
    if (!this.groupDone) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      // A failed commit is reported through health and to the waiting producers; never unhandled.
      promise.catch(() => undefined);
      this.groupDone = { promise, resolve, reject };
    }
    const durable = this.groupDone.promise;
    // `await` first, so everything appended in this turn goes in the same group, and the loop's
    // end (which clears `committing`) can never run before this assignment.
    this.committing ??= (async () => {
      try {
        await undefined;
        await this.commitLoop();
      } finally {
        this.committing = undefined;
      }
    })();
    return { lsn, durable };
  }

  /** Resolves once everything appended so far is on disk. */
  async flush(): Promise<void> {
    while (this.committing) await this.committing;
  }

  /** Deletes the segments whose records all have LSN ≤ upTo (never the one being written). */
  release(upTo: number): number {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[1]!.firstLsn - 1 <= upTo) {
      const seg = this.segments.shift()!;
      unlinkSync(seg.file);
      removed++;
    }
    return removed;
  }

  status(): AppendLogStatus {
    return { segments: this.segments.length, bytes: this.segments.reduce((n, s) => n + s.bytes, 0), waiting: this.group.length, ...this.stats };
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    close(fd, () => undefined);
  }

  private async commitLoop(): Promise<void> {
    while (this.group.length > 0) {
      const lines = this.group;
      const first = this.groupFirst;
      const done = this.groupDone!;
      this.group = [];
      this.groupDone = undefined;
      const started = performance.now();
      try {
        const fd = this.current(first);
        const buf = Buffer.from(lines.join(''));
        // Into the page cache here (microseconds: a crash of the process loses nothing after
        // this); the wait for the disk runs on libuv's pool while the next group gathers.
        writeSync(fd, buf);
        this.segments[this.segments.length - 1]!.bytes += buf.length;
        if (this.opts.fsync) await datasync(fd);
        this.stats.commits++;
        this.stats.lastCommitMs = performance.now() - started;
        this.stats.lastError = null;
        done.resolve();
      } catch (err) {
        // The records of this group are not acknowledged; the next group starts a new segment
        // (after a failed fsync, what the old file holds is not known).
        this.stats.failures++;
        this.stats.lastError = (err as Error).message;
        this.closeFd();
        done.reject(err as Error);
        continue;
      }
      if (this.segments[this.segments.length - 1]!.bytes >= this.opts.segmentBytes) this.closeFd();
    }
  }

  /** The segment being written: opened on first use, a new one after rotation or a failure. */
  private current(firstLsn: number): number {
    if (this.fd !== undefined) return this.fd;
    const last = this.segments[this.segments.length - 1];
    // Keep appending to the last segment after a restart unless it is full (or failed).
    if (last && last.bytes < this.opts.segmentBytes && !this.stats.lastError) {
      this.fd = openSync(last.file, 'a', 0o600);
      return this.fd;
    }
    const file = path.join(this.dir, `${String(firstLsn).padStart(20, '0')}.log`);
    this.fd = openSync(file, 'a', 0o600);
    this.segments.push({ file, firstLsn, bytes: 0 });
    if (this.opts.fsync) syncDir(this.dir);
    return this.fd;
  }
}

const datasync = promisify(fdatasync);

/** Makes a new file's directory entry durable. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Finds the end of the last whole record of the last segment and cuts the file there: a crash can
 * leave a torn line (its commit never returned, so it was never acknowledged). Returns its last LSN.
 */
function repairTail<T>(seg: Segment, parse: (text: string) => T): number | undefined {
  const buf = readFileSync(seg.file);
  let good = 0;
  let lastLsn: number | undefined;
  for (let start = 0; start < buf.length; ) {
    const end = buf.indexOf(0x0a, start);
    if (end < 0) break;
    const rec = parseLine(buf.toString('utf8', start, end), parse);
    if (!rec) break;
    lastLsn = rec.lsn;
    good = start = end + 1;
  }
  if (good < buf.length) {
    truncateSync(seg.file, good);
    seg.bytes = good;
  }
  return lastLsn;
}

async function* readSegment<T>(seg: Segment, parse: (text: string) => T): AsyncGenerator<{ lsn: number; value: T }> {
  const rl = createInterface({ input: createReadStream(seg.file), crlfDelay: Infinity });
  for await (const line of rl) {
    const rec = parseLine(line, parse);
    if (rec) yield rec;
  }
}

function parseLine<T>(line: string, parse: (text: string) => T): { lsn: number; value: T } | undefined {
  const space = line.indexOf(' ');
  if (space <= 0) return undefined;
  const lsn = Number(line.slice(0, space));
  if (!Number.isSafeInteger(lsn)) return undefined;
  try {
    return { lsn, value: parse(line.slice(space + 1)) };
  } catch {
    return undefined;
  }
}
