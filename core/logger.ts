import { pino, type Logger } from 'pino';
import { compactLines } from './log-format.ts';

export type { Logger };

/**
 * The platform's logger. At a terminal (stdout a TTY) lines are short and readable; elsewhere they
 * are pino's JSON, one object a line, for log collectors. LOG_FORMAT=json|pretty forces one.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'platform', format = process.env.LOG_FORMAT, opts: { drop?: (fields: Record<string, unknown>, msg: string) => boolean } = {}): Logger {
  const pretty = format === 'pretty' || (format !== 'json' && process.stdout.isTTY === true);
  return pino({
    name,
    level,
    // Never let a secret reach a log line, whatever object a caller passes.
    // A line the caller knows to expect (the demo's bad device being refused) need not be printed.
    ...(opts.drop ? { hooks: { logMethod(args: unknown[], method: (...a: unknown[]) => void) {
      const [fields, msg] = args;
      if (typeof fields === 'object' && fields !== null && typeof msg === 'string' && opts.drop!(fields as Record<string, unknown>, msg)) return;
      method.apply(this, args);
    } } } : {}),
    redact: { paths: ['secret', 'password', '*.secret', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'req.headers.authorization'], censor: '[redacted]' },
  }, pretty ? compactLines(process.stdout, process.stdout.isTTY === true) : undefined);
}
