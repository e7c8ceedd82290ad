import { monitorEventLoopDelay } from 'node:perf_hooks';
import { z } from 'zod';
import type { ApiDeps, App } from '../deps.ts';

const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  problems: z.array(z.string()),
  /**
   * deliveriesShed: messages not delivered to subscribers that could not keep up; readsPausedForBus:
   * times a connection was not read from because the broker's message bus was backed up (broker.ts).
   */
  broker: z.object({ clients: z.number(), devicesOnline: z.number(), deliveriesShed: z.number(), readsPausedForBus: z.number() }),
  ingest: z.object({
    received: z.number(),
    stored: z.number(),
    rejected: z.number(),
    rejectedByReason: z.record(z.string(), z.number()),
    serverTimestamped: z.number(),
    acks: z.number(),
    pending: z.record(z.string(), z.number()),
  }),
  rules: z.object({ readings: z.number(), announceP50Ms: z.number(), announceP99Ms: z.number(), evaluations: z.number(), raised: z.number(), cleared: z.number(), openAlarms: z.number(), commandsSent: z.number(), commandsTimedOut: z.number(), writeQueue: z.number(), writeFailures: z.number() }),
  /** How late the broker's thread ran timers since the previous health request: the platform's headroom. */
  eventLoop: z.object({ delayP50Ms: z.number(), delayP99Ms: z.number(), delayMaxMs: z.number() }),
  uptimeS: z.number(),
});

/** Readings waiting above this mean the store is not keeping up. */
const BACKLOG_DEGRADED = 20_000;

const ms = (ns: number) => Math.round(ns / 1e4) / 100;

export default async function healthRoutes(app: App, deps: ApiDeps) {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  app.addHook('onClose', async () => loop.disable());

  app.get('/health', { schema: { tags: ['platform'], summary: 'Liveness and ingest counters (no auth)', response: { 200: healthSchema } } }, async () => {
    const problems: string[] = [];
    try {
      await deps.db.query('SELECT 1');
    } catch {
      problems.push('store unreachable');
    }
    const ingest = deps.ingest.stats();
    for (const [sink, pending] of Object.entries(ingest.pending)) if (pending > BACKLOG_DEGRADED) problems.push(`sink ${sink} backlog ${pending}`);
    const body = {
      status: problems.length ? ('degraded' as const) : ('ok' as const),
      problems,
      broker: { clients: deps.broker.clientCount, devicesOnline: deps.broker.onlineCount(), deliveriesShed: deps.broker.load.shed, readsPausedForBus: deps.broker.load.readsPausedForBus },
      ingest,
      rules: deps.rules.stats(),
      eventLoop: { delayP50Ms: ms(loop.percentile(50)), delayP99Ms: ms(loop.percentile(99)), delayMaxMs: ms(loop.max) },
      uptimeS: Math.round(process.uptime()),
    };
    loop.reset();
    return body;
  });
}
