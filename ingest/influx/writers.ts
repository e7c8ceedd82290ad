import { InfluxDB, type WriteApi } from '@influxdata/influxdb-client';

/** Sends one batch of line protocol; throws when the server did not take all of it. */
export interface LineWriter {
  readonly name: string;
  write(lines: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The v2 write API (`/api/v2/write`: InfluxDB 2.x, 3.x, 1.8+, VictoriaMetrics) through
 * `@influxdata/influxdb-client`. Its own batching (60 s flush by default), retries and buffer are
 * switched off: the sink batches, bounds and retries, and spools to disk when the server is away.
 */
export class V2Writer implements LineWriter {
  readonly name = 'influx-v2';
  private readonly api: WriteApi;

  constructor(opts: { url: string; token?: string; org: string; bucket: string; timeoutMs?: number }) {
    this.api = new InfluxDB({ url: opts.url, token: opts.token, timeout: opts.timeoutMs ?? 10_000 }).getWriteApi(opts.org, opts.bucket, 'ms', {
      batchSize: 100_000, // above any batch the sink sends (the client preallocates it)
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: 1_000_000,
    });
  }

  async write(lines: string[]): Promise<void> {
    this.api.writeRecords(lines);
    await this.api.flush(true);
  }

  async close(): Promise<void> {
    await this.api.close().catch(() => undefined);
  }
}

/** The v1 write API (`/write?db=`) for InfluxDB 1.x sites (Debian's 1.6.7 has no v2 API). */
export class V1Writer implements LineWriter {
  readonly name = 'influx-v1';

  constructor(private readonly opts: { url: string; database: string; username?: string; password?: string; timeoutMs?: number }) {}

  async write(lines: string[]): Promise<void> {
    const u = new URL('/write', this.opts.url);
    u.searchParams.set('db', this.opts.database);
    u.searchParams.set('precision', 'ms');
    if (this.opts.username) u.searchParams.set('u', this.opts.username);
    if (this.opts.password) u.searchParams.set('p', this.opts.password);
    const res = await fetch(u, { method: 'POST', body: lines.join('\n'), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) });
    // The status goes with the error: a 400 refuses the lines themselves (core/isolate.ts), others are retried.
    if (res.status !== 204) throw Object.assign(new Error(`InfluxDB v1 write: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`), { statusCode: res.status });
  }

  async close(): Promise<void> {}
}
