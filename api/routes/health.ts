import { z } from 'zod';
import type { ApiDeps, App } from '../deps.ts';

const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  problems: z.array(z.string()),
  broker: z.object({ clients: z.number(), devicesOnline: z.number() }),
  ingest: z.object({
    received: z.number(),
    stored: z.number(),
    rejected: z.number(),
    rejectedByReason: z.record(z.string(), z.number()),
    serverTimestamped: z.number(),
    acks: z.number(),
    pending: z.record(z.string(), z.number()),
  }),
  uptimeS: z.number(),
});

/** Readings waiting above this mean the store is not keeping up. */
const BACKLOG_DEGRADED = 20_000;

export default async function healthRoutes(app: App, deps: ApiDeps) {
  app.get('/health', { schema: { tags: ['platform'], summary: 'Liveness and ingest counters (no auth)', response: { 200: healthSchema } } }, async () => {
    const problems: string[] = [];
    try {
      await deps.db.query('SELECT 1');
    } catch {
      problems.push('store unreachable');
    }
    const ingest = deps.ingest.stats();
    for (const [sink, pending] of Object.entries(ingest.pending)) if (pending > BACKLOG_DEGRADED) problems.push(`sink ${sink} backlog ${pending}`);
    return {
      status: problems.length ? ('degraded' as const) : ('ok' as const),
      problems,
      broker: { clients: deps.broker.clientCount, devicesOnline: deps.broker.onlineCount() },
      ingest,
      uptimeS: Math.round(process.uptime()),
    };
  });
}
