import { close, closeSync, existsSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';

export interface AppendLogOptions {
  /** Size of a segment file: a group that does not fit in what is left of one starts the next. */
  segmentBytes?: number;
  /** fdatasync after every group (the default): an acknowledged record survives a power cut, not only a crash. */
  fsync?: boolean;
}

/** What health reports of a log (the schema `/api/v1/health` answers with). */
export const appendLogStatusSchema = z.object({
  segments: z.number(),
  /** Record bytes in the log (its files are preallocated, so they take at least a segment each on disk). */
  bytes: z.number(),
  /** Records appended but not yet on disk. */
  waiting: z.number(),
  commits: z.number(),
  /** Commits that failed (the records in them were not acknowledged). */
  failures: z.number(),
  lastError: z.string().nullable(),
  /** Duration of the last commit (write + fdatasync), ms. */
  lastCommitMs: z.number(),
});
export type AppendLogStatus = z.infer<typeof appendLogStatusSchema>;

interface Segment {
  file: string;
  firstLsn: number;
  /** Record bytes written in it: where the next group goes. */
  bytes: number;
}

const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024;
const SEGMENT_RE = /^(\d{20})\.log$/;
const SPARE = 'spare.next';
const datasync = promisify(fdatasync);

/**
 * An append-only log of one-line records in numbered segment files, written with group commit:
 * records appended while one write + fdatasync is under way go together in the next, so the cost
 * of an fsync is shared by everything that arrived meanwhile (about 0.2–0.4 ms here, whatever the
 * number of records). `append` gives each record its log sequence number (LSN) and a promise that
 * settles once the record is on disk. Consumers remember the last LSN they have taken in; segments
 * wholly below every consumer's mark are released.
 *
 * Segment files are written in place, never grown, as PostgreSQL writes its WAL: a fresh one is
 * filled with zeros beforehand, a released one is reused. An fdatasync then flushes only the
 * log's own pages; an appending write would change the file's size and block map, and on ext4
 * (data=ordered) committing that metadata first flushes every other file's new blocks — the
 * embedded store's — which made each fsync wait for the store's writes and held the PUBACKs.
 *
 * A record is `<lsn> <byte length> <body>\n`; the body is any bytes (a device's payload as it came).
 * Reading a segment stops at the first record that is not whole or whose LSN is not the next one: a
 * torn write, zeros, or what a reused file held before.
 * After a restart the log goes on in a new segment, so nothing is written after a torn record.
 */
export class AppendLog {
  private readonly segments: Segment[] = [];
  private fd: number | undefined;
  private nextLsn: number;
  /** Records waiting for the next commit: [lsn, text, bytes after it]. */
  private group: [number, string, Buffer | undefined][] = [];
  /** LSN of the group's first record: a new segment is named after it. */
  private groupFirst = 0;
  private groupDone: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;
  private committing: Promise<void> | undefined;
  private spare: Promise<void> | undefined;
  private spareReady = false;
  private closed = false;
  private readonly stats = { commits: 0, failures: 0, lastError: null as string | null, lastCommitMs: 0 };
  /** Record bytes this instance has written (a counter for callers that fold the log now and then). */
  written = 0;

  private constructor(private readonly dir: string, private readonly opts: Required<AppendLogOptions>, lastLsn: number) {
    this.nextLsn = lastLsn + 1;
  }

  /** Opens (or creates) the log in `dir`, with its records (parsed by `parse`) to replay, oldest first. */
  static async open<T>(dir: string, opts: AppendLogOptions, parse: (body: Buffer) => T): Promise<{ log: AppendLog; records: AsyncGenerator<{ lsn: number; value: T }> }> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const segments: Segment[] = readdirSync(dir)
      .filter((f) => SEGMENT_RE.test(f))
      .sort()
      .map((f) => ({ file: path.join(dir, f), firstLsn: Number(SEGMENT_RE.exec(f)![1]), bytes: statSync(path.join(dir, f)).size }));
    // Each segment's records end where its successor's start; only the last is read to find its end
    // (a fresh segment a crash left without a record is dropped, and the one before it read).
    let lastLsn = 0;
    while (segments.length > 0) {
      const last = segments[segments.length - 1]!;
      const end = scan(last, parse, () => undefined);
      if (end.records > 0) {
        last.bytes = end.bytes;
        lastLsn = end.lastLsn;
        break;
      }
      unlinkSync(last.file);
      segments.pop();
    }
    const log = new AppendLog(dir, { segmentBytes: opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES, fsync: opts.fsync ?? true }, lastLsn);
    log.segments.push(...segments);
    // The first segment of this run is ready before anything is appended.
    log.prepareSpare();
    await log.spare;
    const records = (async function* () {
      for (const seg of segments) {
        const out: { lsn: number; value: T }[] = [];
        scan(seg, parse, (r) => void out.push(r));
        yield* out;
      }
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

  /**
   * Appends one record: `text` then, when given, `bytes` as they are (no copy, no encoding until the
   * group is written). The promise settles once the record is on disk.
   */
  append(text: string, bytes?: Buffer): { lsn: number; durable: Promise<void> } {
    if (this.closed) throw new Error('append log is closed');
    const lsn = this.nextLsn++;
    if (this.group.length === 0) this.groupFirst = lsn;
    this.group.push([lsn, text, bytes]);
    if (!this.groupDone) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      // A failed commit is reported through health and to the waiting producers; never unhandled.
      promise.catch(() => undefined);
      this.groupDone = { promise, resolve, reject };
    }
    const durable = this.groupDone.promise;
    this.kick();
    return { lsn, durable };
  }

  /**
   * Starts the commit loop unless it runs. It starts after an `await`, so everything appended in
   * this turn goes in one group; a record appended while the loop was finishing starts it again.
   */
  private kick(): void {
    if (this.committing) return;
    this.committing = (async () => {
      await undefined;
      try {
        await this.commitLoop();
      } finally {
        this.committing = undefined;
        if (this.group.length > 0) this.kick();
      }
    })();
  }

  /** Resolves once everything appended so far is on disk. */
  async flush(): Promise<void> {
    while (this.committing) await this.committing;
  }

  /**
   * Lets go of the segments whose records all have LSN ≤ upTo (never the one being written): the
   * oldest becomes the next spare (it is already allocated: no zeros to write), the rest are deleted.
   */
  release(upTo: number): number {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[1]!.firstLsn - 1 <= upTo) {
      const seg = this.segments.shift()!;
      if (!this.spareReady && !this.spare) {
        renameSync(seg.file, path.join(this.dir, SPARE));
        this.spareReady = true;
      } else unlinkSync(seg.file);
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
    await this.spare;
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
      const records = this.group;
      const first = this.groupFirst;
      const done = this.groupDone!;
      this.group = [];
      this.groupDone = undefined;
      const started = performance.now();
      try {
        const buf = encodeGroup(records);
        const { fd, seg } = this.segmentFor(buf.length, first);
        // Into the page cache here (microseconds: a crash of the process loses nothing after
        // this); the wait for the disk runs on libuv's pool while the next group gathers.
        writeSync(fd, buf, 0, buf.length, seg.bytes);
        seg.bytes += buf.length;
        this.written += buf.length;
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
      }
    }
  }

  /** The segment a group of `bytes` goes into: the current one while it fits, else the next (the spare). */
  private segmentFor(bytes: number, firstLsn: number): { fd: number; seg: Segment } {
    const current = this.segments[this.segments.length - 1];
    if (this.fd !== undefined && current && current.bytes + bytes <= this.opts.segmentBytes) return { fd: this.fd, seg: current };
    this.closeFd();
    const file = path.join(this.dir, `${String(firstLsn).padStart(20, '0')}.log`);
    const spare = path.join(this.dir, SPARE);
    if (this.spareReady && existsSync(spare)) {
      renameSync(spare, file);
      this.spareReady = false;
    }
    // Without a spare (it is still being filled), the segment grows as it is written: slower fsyncs until the next one.
    this.fd = openSync(file, existsSync(file) ? 'r+' : 'w+', 0o600);
    const seg = { file, firstLsn, bytes: 0 };
    this.segments.push(seg);
    if (this.opts.fsync) syncDir(this.dir);
    this.prepareSpare();
    return { fd: this.fd, seg };
  }

  /** Fills the next segment with zeros in the background, unless one is ready or being filled. */
  private prepareSpare(): void {
    if (this.spareReady || this.spare) return;
    this.spare = (async () => {
      const tmp = path.join(this.dir, `${SPARE}.tmp`);
      const h = await openAsync(tmp, 'w', 0o600);
      try {
        const zeros = Buffer.alloc(1024 * 1024);
        for (let at = 0; at < this.opts.segmentBytes; at += zeros.length) await h.write(zeros, 0, Math.min(zeros.length, this.opts.segmentBytes - at), at);
        if (this.opts.fsync) await h.sync();
      } finally {
        await h.close();
      }
      renameSync(tmp, path.join(this.dir, SPARE));
      this.spareReady = true;
    })()
      .catch((err: Error) => {
        this.stats.lastError = `preparing a journal segment: ${err.message}`;
      })
      .finally(() => {
        this.spare = undefined;
      });
  }
}

/** Makes a new (or renamed) file's directory entry durable. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** One buffer for a whole group: `<lsn> <length> <body>\n` per record. */
function encodeGroup(records: [number, string, Buffer | undefined][]): Buffer {
  const heads: string[] = new Array(records.length);
  const textBytes: number[] = new Array(records.length);
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const [lsn, text, bytes] = records[i]!;
    const n = Buffer.byteLength(text) + (bytes?.length ?? 0);
    heads[i] = `${lsn} ${n} `;
    textBytes[i] = n - (bytes?.length ?? 0);
    size += heads[i]!.length + n + 1;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const [, text, bytes] = records[i]!;
    at += buf.write(heads[i]!, at, 'latin1');
    at += buf.write(text, at, textBytes[i]!, 'utf8');
    if (bytes) at += bytes.copy(buf, at);
    buf[at++] = 0x0a;
  }
  return buf;
}

/**
 * Reads a segment's records in order, handing each to `each`, and says where they end: at the first
 * record that is not whole (a torn write, zeros) or whose LSN is not the one after the previous
 * (what a reused file held before).
 */
function scan<T>(seg: Segment, parse: (body: Buffer) => T, each: (r: { lsn: number; value: T }) => void): { records: number; bytes: number; lastLsn: number } {
  const buf = readFileSync(seg.file);
  let at = 0;
  let expected = seg.firstLsn;
  let records = 0;
  for (;;) {
    const rec = parseRecord(buf, at, expected, parse);
    if (!rec) break;
    each(rec);
    records++;
    expected++;
    at = rec.end;
  }
  return { records, bytes: at, lastLsn: expected - 1 };
}

/** The record at `at`, if it is whole, has LSN `lsn`, and `parse` takes its body. */
function parseRecord<T>(buf: Buffer, at: number, lsn: number, parse: (body: Buffer) => T): { lsn: number; value: T; end: number } | undefined {
  const a = buf.indexOf(0x20, at);
  if (a <= at || a - at > 20) return undefined;
  const b = buf.indexOf(0x20, a + 1);
  if (b <= a + 1 || b - a > 12) return undefined;
  if (Number(buf.toString('latin1', at, a)) !== lsn) return undefined;
  const n = Number(buf.toString('latin1', a + 1, b));
  const end = b + 1 + n;
  if (!Number.isSafeInteger(n) || end >= buf.length || buf[end] !== 0x0a) return undefined;
  try {
    return { lsn, value: parse(buf.subarray(b + 1, end)), end: end + 1 };
  } catch {
    return undefined;
  }
}
