import type { Logger } from './logger.ts';

/**
 * Rate-limits repeated identical log lines. A misbehaving client (or a fuzzer) can make the broker
 * refuse the same thing a million times; the first few lines per key and window are logged,
 * the rest are counted and reported once when the window rolls over.
 */
export class LogThrottle {
  private readonly windows = new Map<string, { started: number; count: number; level: 'error' | 'warn' | 'info'; sample: object; msg: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly perWindow = 5,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `msg` with `fields` unless `key` has already been logged `perWindow` times in this window. */
  warn(key: string, fields: object, msg: string): void {
    this.emit('warn', key, fields, msg);
  }

  error(key: string, fields: object, msg: string): void {
    this.emit('error', key, fields, msg);
  }

  info(key: string, fields: object, msg: string): void {
    this.emit('info', key, fields, msg);
  }

  private emit(level: 'error' | 'warn' | 'info', key: string, fields: object, msg: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.started >= this.windowMs) {
      this.flushOne(key, w);
      w = undefined;
    }
    if (!w) {
      w = { started: t, count: 0, level, sample: fields, msg };
      this.windows.set(key, w);
      this.timer ??= setInterval(() => this.sweep(), this.windowMs).unref();
    }
    w.count++;
    if (w.count <= this.perWindow) this.log[level](fields, msg);
  }

  /** Reports suppressed counts of windows that have ended. */
  sweep(): void {
    const t = this.now();
    for (const [key, w] of this.windows) if (t - w.started >= this.windowMs) this.flushOne(key, w);
    if (this.windows.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private flushOne(key: string, w: { count: number; level: 'error' | 'warn' | 'info'; sample: object; msg: string }): void {
    this.windows.delete(key);
    const suppressed = w.count - this.perWindow;
    if (suppressed > 0) this.log[w.level]({ ...w.sample, suppressed, windowMs: this.windowMs }, `${w.msg} (repeated, ${suppressed} lines suppressed)`);
  }

  close(): void {
    for (const [key, w] of this.windows) this.flushOne(key, w);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
