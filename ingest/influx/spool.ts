import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Batches the time-series server could not take, on disk, in order: one JSON line per batch.
 * Survives a restart of the platform; drained oldest first once the server is back.
 */
export class Spool {
  private readonly file: string;
  private batches: string[][] = [];

  constructor(dir: string, name: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, `${name}.spool.jsonl`);
    if (existsSync(this.file)) {
      for (const line of readFileSync(this.file, 'utf8').split('\n')) if (line) this.batches.push(JSON.parse(line) as string[]);
    }
  }

  get size(): number {
    return this.batches.reduce((n, b) => n + b.length, 0);
  }

  get empty(): boolean {
    return this.batches.length === 0;
  }

  /**
   * Appends a batch, synchronously and fsynced: once this returns the batch is on disk, so the
   * ingest journal may let go of the readings in it.
   */
  push(lines: string[]): void {
    const fd = openSync(this.file, 'a', 0o600);
    try {
      writeSync(fd, JSON.stringify(lines) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.batches.push(lines);
  }

  peek(): string[] | undefined {
    return this.batches[0];
  }

  /** Drops the oldest batch once it is written, rewriting the file atomically. */
  shift(): void {
    this.batches.shift();
    if (this.batches.length === 0) {
      rmSync(this.file, { force: true });
      return;
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, this.batches.map((b) => JSON.stringify(b)).join('\n') + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
