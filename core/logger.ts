import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'platform'): Logger {
  return pino({
    name,
    level,
    // Never let a secret reach a log line, whatever object a caller passes.
    redact: { paths: ['secret', 'password', '*.secret', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'req.headers.authorization'], censor: '[redacted]' },
  });
}
