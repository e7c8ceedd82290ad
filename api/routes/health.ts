import { limitsStatus } from '../../core/limits.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { z } from 'zod';
import { appendLogStatusSchema } from '../../core/append-log.ts';
import { writeBufferStatusSchema } from '../../ingest/write-buffer.ts';
import type { ApiDeps, App } from '../deps.ts';

const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  problems: z.array(z.string()),
  /**
   * deliveriesShed: messages not delivered to subscribers that could not keep up; readsPausedForBus:
   * times a connection was not read from because the broker's message bus was backed up (broker.ts).
   */
  broker: z.object({
    clients: z.number(),
    devicesOnline: z.number(),
    deliveriesShed: z.number(),
    readsPausedForBus: z.number(),
    /** Devices timed out for sending too many invalid messages: now, and in all since start. */
    devicesTimedOut: z.number(),
    timeOuts: z.number(),
    /** Durable sessions (clean=false clients), retained messages, queued QoS 1 messages and those dropped for a full queue. */
    sessions: z.object({ clients: z.number(), retained: z.number(), queued: z.number(), dropped: z.number() }).nullable(),
  }),
  ingest: z.object({
    received: z.number(),
    stored: z.number(),
    rejected: z.number(),
    rejectedByReason: z.record(z.string(), z.number()),
    serverTimestamped: z.number(),
    acks: z.number(),
    /** Readings resent with a (device, seq) already taken: acknowledged, stored once. */
    duplicates: z.number(),
    pending: z.record(z.string(), z.number()),
    /** Per sink: what waits, how old, retries, rows refused (dead-lettered as sink_rejected), points spooled. */
    sinks: z.record(z.string(), writeBufferStatusSchema.extend({ spooled: z.number() })),
    deadLetters: writeBufferStatusSchema.extend({ dropped: z.number(), keptBytes: z.number(), maxBytes: z.number(), pruned: z.number() }),
    /** The journal QoS 1 messages are on before they are acknowledged. */
    journal: appendLogStatusSchema.nullable(),
  }),
  rules: z.object({ readings: z.number(), announceP50Ms: z.number(), announceP99Ms: z.number(), evaluations: z.number(), raised: z.number(), cleared: z.number(), openAlarms: z.number(), commandsSent: z.number(), commandsTimedOut: z.number(), writeQueue: z.number(), writeFailures: z.number(), writeRejected: z.number() }),
  /** The event bus: its consumers, events handed to them, and each consumer's failures (never felt by the others). */
  events: z.object({ listeners: z.number(), delivered: z.number(), failures: z.record(z.string(), z.number()) }),
  /** Failed sign-ins (HTTP and MQTT), blocks, and what the rate, connection and stream limits refused. */
  limits: z.object({ authFailures: z.number(), authBlocks: z.number(), blockedNow: z.number(), rateRefused: z.number(), connectionsRefused: z.number(), streamsRefused: z.number() }),
  /** How late the broker's thread ran timers since the previous health request: the platform's headroom. */
  eventLoop: z.object({ delayP50Ms: z.number(), delayP99Ms: z.number(), delayMaxMs: z.number() }),
  /** The notification flows (flows/, Node-RED in a child process): null when NOTIFY_FLOWS=false. */
  notifications: z.object({
    state: z.enum(['starting', 'running', 'restarting', 'stopped']),
    subscribed: z.boolean(),
    restarts: z.number(),
    pid: z.number().nullable(),
    channels: z.object({ wecom: z.boolean(), dingtalk: z.boolean(), sms: z.boolean() }),
    editor: z.boolean(),
  }).nullable(),
  uptimeS: z.number(),
});

/** What `GET /api/v1/health` answers. */
export type Health = z.infer<typeof healthSchema>;

const ms = (ns: number) => Math.round(ns / 1e4) / 100;

export default async function healthRoutes(app: App, deps: ApiDeps) {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  app.addHook('onClose', async () => loop.disable());

  // Liveness: the process answers (an orchestrator restarts it when it does not).
  app.get('/health/live', { schema: { tags: ['platform'], summary: 'Liveness: the process answers (no auth)', response: { 200: z.object({ status: z.literal('ok'), uptimeS: z.number() }) } } }, async () => ({ status: 'ok' as const, uptimeS: Math.round(process.uptime()) }));

  // Readiness: each dependency this node needs to take traffic; 503 while one is not there.
  // `required: false`: reported, but no reason to take the node out of service (a sink spools while its server is away).
  const check = z.object({ ok: z.boolean(), required: z.boolean(), detail: z.string().optional() });
  const readiness = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), check) });
  app.get('/health/ready', {
    schema: {
      tags: ['platform'],
      summary: 'Readiness: the store, the broker\'s listeners, the time-series sinks and Redis (when configured); 503 with the reasons when one is not ready (no auth)',
      response: { 200: readiness, 503: readiness },
    },
  }, async (_req, reply) => {
    const checks: Record<string, z.infer<typeof check>> = {};
    const answers = async (name: string, p: Promise<unknown>) => {
      try {
        await Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref())]);
        checks[name] = { ok: true, required: true };
      } catch (err) {
        checks[name] = { ok: false, required: true, detail: (err as Error).message };
      }
    };
    const redis = deps.broker.redisPing();
    await Promise.all([answers('store', deps.db.query('SELECT 1')), redis && answers('redis', redis)]);
    for (const [name, up] of Object.entries(deps.listeners?.listening() ?? {})) if (up !== null) checks[`broker.${name}`] = up ? { ok: true, required: true } : { ok: false, required: true, detail: 'not listening' };
    for (const [name, sink] of Object.entries(deps.ingest.stats().sinks)) {
      const failing = sink.lastError && sink.pending > 0;
      checks[`sink.${name}`] = failing ? { ok: false, required: false, detail: `${sink.lastError}; ${sink.pending} waiting` } : { ok: true, required: false };
    }
    const ready = Object.values(checks).every((c) => c.ok || !c.required);
    if (!ready) reply.header('retry-after', '5');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/health', { schema: { tags: ['platform'], summary: 'Liveness and ingest counters (no auth)', response: { 200: healthSchema } } }, async () => {
    const problems: string[] = [];
    try {
      await deps.db.query('SELECT 1');
    } catch {
      problems.push('store unreachable');
    }
    const ingest = deps.ingest.stats();
    problems.push(...deps.ingest.problems(ingest), ...deps.rules.problems());
    for (const f of deps.bus.recentFailures(Date.now(), 60_000)) problems.push(`event consumer ${f.consumer}: failed ${f.count} times, last ${Math.round(f.agoMs / 1000)} s ago`);
    const sessionLog = deps.broker.sessions?.status().log;
    if (sessionLog?.lastError) problems.push(`broker sessions: cannot write (${sessionLog.lastError}); subscriptions and queued messages of persistent clients are not acknowledged`);
    const notifications = deps.notifications?.status() ?? null;
    if (notifications && !notifications.subscribed) problems.push(`notification flows ${notifications.state}: not listening to work-item events on the broker; alerts wait on its session`);
    const body = {
      status: problems.length ? ('degraded' as const) : ('ok' as const),
      problems,
      broker: {
        clients: deps.broker.clientCount,
        devicesOnline: deps.broker.onlineCount(),
        deliveriesShed: deps.broker.load.shed,
        readsPausedForBus: deps.broker.load.readsPausedForBus,
        devicesTimedOut: deps.broker.flood.bannedCount(Date.now()),
        timeOuts: deps.broker.flood.bans,
        sessions: deps.broker.sessions?.status() ?? null,
      },
      ingest,
      rules: deps.rules.stats(),
      events: deps.bus.stats(),
      limits: limitsStatus(deps.limits),
      eventLoop: { delayP50Ms: ms(loop.percentile(50)), delayP99Ms: ms(loop.percentile(99)), delayMaxMs: ms(loop.max) },
      notifications,
      uptimeS: Math.round(process.uptime()),
    };
    loop.reset();
    return body;
  });
}
