import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component']);

/** `k=v` for one field: strings bare unless they hold spaces, the rest as compact JSON. */
const field = (k: string, v: unknown): string => {
  const s = typeof v === 'string' ? (/\s/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v);
  return `${k}=${s !== undefined && s.length > 160 ? `${s.slice(0, 157)}…` : s}`;
};

/**
 * pino's JSON lines as one short line each for a person at a terminal:
 * `14:03:12 WARN  [broker] mqtt refused reason=topic_not_allowed deviceId=b01-manhole-cover-2`.
 * Machines (stdout not a TTY, LOG_FORMAT=json) keep the JSON.
 */
export function compactLines(out: NodeJS.WritableStream = process.stdout, colour = true): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (line) out.write(format(line, colour) + '\n');
      done();
    },
  });
}

export function format(line: string, colour = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = Number(o.level);
  const time = new Date(Number(o.time)).toLocaleTimeString('zh-CN', { hour12: false });
  const err = o.err as { message?: string } | undefined;
  const rest = Object.entries(o).filter(([k]) => !SKIP.has(k) && k !== 'err').map(([k, v]) => field(k, v));
  if (err?.message) rest.push(field('err', err.message));
  const head = `${time} ${LEVELS[level] ?? level}${o.component ? ` [${o.component}]` : ''} ${o.msg ?? ''}`;
  const text = rest.length ? `${head} ${rest.join(' ')}` : head;
  return colour && COLOURS[level] ? `${COLOURS[level]}${text}\x1b[0m` : text;
}
