import type { AppendLogStatus } from '../core/append-log.ts';
import type { WriteBufferStatus } from './write-buffer.ts';

/** Data that has waited longer than this for its sink makes health `degraded`. */
export const BEHIND_MS = 5_000;

interface IngestStats {
  sinks: Record<string, WriteBufferStatus & { spooled: number }>;
  deadLetters: WriteBufferStatus & { dropped: number };
  journal: AppendLogStatus | null;
}

/**
 * Why ingest is degraded, one line per cause, naming the sink and the reason: data waiting longer
 * than a few seconds, writes being retried, rows refused in the last minute, points spooled while a
 * server is away, a journal that cannot write. An empty list: ingest is fine.
 */
export function ingestProblems(s: IngestStats): string[] {
  const out: string[] = [];
  const buffer = (what: string, items: string, b: WriteBufferStatus) => {
    if (b.retrying) out.push(`${what}: writes failing, retrying (${b.lastError ?? 'unknown error'}); ${b.pending} ${items} waiting`);
    else if (b.oldestMs > BEHIND_MS) out.push(`${what}: behind, ${b.pending} ${items} waiting, the oldest for ${Math.round(b.oldestMs / 1000)} s`);
    if (b.rejectedRecently > 0) out.push(`${what}: refused ${b.rejectedRecently} ${items} recently, dead-lettered as sink_rejected (${b.lastRejection ?? ''})`);
  };
  for (const [name, b] of Object.entries(s.sinks)) {
    buffer(`sink ${name}`, 'readings', b);
    if (b.spooled > 0) out.push(`sink ${name}: server not taking writes, ${b.spooled} points spooled to disk`);
  }
  buffer('dead letters', 'dead letters', s.deadLetters);
  if (s.journal?.lastError) out.push(`journal: cannot write (${s.journal.lastError}); QoS 1 messages are not acknowledged`);
  return out;
}
