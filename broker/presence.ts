import { PartialWriteError, writeIsolating } from '../core/isolate.ts';
import type { Db } from '../core/store/db.ts';
import { applyPresence } from '../core/store/devices.ts';
import type { Logger } from '../core/logger.ts';

/**
 * Writes device online/offline changes to the store in batches: a reconnect storm of thousands of
 * devices becomes one UPDATE a second instead of thousands. The broker's in-memory view is the
 * live truth; the store keeps it across restarts and for other nodes.
 */
export class PresenceWriter {
  private pending = new Map<string, { online: boolean; at: Date }>();
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db, private readonly log: Logger, private readonly nodeId: string, intervalMs = 1000) {
    this.timer = setInterval(() => void this.flush(), intervalMs).unref();
  }

  record(deviceId: string, online: boolean, at = new Date()): void {
    this.pending.set(deviceId, { online, at });
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      const rows = [...batch].map(([id, c]) => ({ id, ...c }));
      try {
        await writeIsolating(rows, (part) => applyPresence(this.db, part, this.nodeId), (row, err) => this.log.error({ err, deviceId: row.id }, 'the store refused a presence change; skipped'));
      } catch (err) {
        const done = err instanceof PartialWriteError ? err.done : 0;
        this.log.error({ err: err instanceof PartialWriteError ? err.cause : err, devices: rows.length - done }, 'presence write failed; will retry');
        for (const { id, online, at } of rows.slice(done)) if (!this.pending.has(id)) this.pending.set(id, { online, at });
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
