import client from 'prom-client';
import { FINISHED_SQL } from '../core/domain.ts';
import type { ApiDeps, App } from './deps.ts';

/**
 * Prometheus metrics at `/metrics` (prom-client): the same live numbers health reports, read when
 * scraped (nothing is counted twice on the hot path), labelled with the node so a cluster's
 * nodes add up. Open like /api/v1/health: counts and depths only, nothing about a person or a
 * place; keep the port inside the site's network, as for health.
 */
export function registerMetrics(app: App, deps: ApiDeps): void {
  const registry = new client.Registry();
  registry.setDefaultLabels({ node: deps.nodeId ?? 'local' });
  // Process and runtime: CPU, memory, event-loop delay (nodejs_eventloop_lag_*), GC.
  client.collectDefaultMetrics({ register: registry, prefix: 'sps_' });

  /** A running total the platform already keeps, exposed as a counter. */
  const total = (name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]) =>
    new client.Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of read()) this.inc(labels, v);
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][] | Promise<[Record<string, string>, number][]>) =>
    new client.Gauge({
      name, help, labelNames, registers: [registry],
      async collect() {
        this.reset();
        for (const [labels, v] of await read()) this.set(labels, v);
      },
    });

  total('sps_mqtt_messages_in_total', 'Device messages taken by ingest (telemetry, events, command answers)', [], () => [[{}, deps.ingest.stats().received]]);
  total('sps_mqtt_deliveries_out_total', 'Messages delivered to subscribers on this node', [], () => [[{}, deps.broker.load.delivered]]);
  total('sps_mqtt_deliveries_shed_total', 'Deliveries not made to subscribers that could not keep up', [], () => [[{}, deps.broker.load.shed]]);
  total('sps_readings_stored_total', 'Readings written to the sinks', [], () => [[{}, deps.ingest.stats().stored]]);
  total('sps_ingest_rejected_total', 'Device messages refused, by reason (dead-lettered)', ['reason'], () => Object.entries(deps.ingest.stats().rejectedByReason).map(([reason, n]) => [{ reason }, n]));
  total('sps_ingest_duplicates_total', 'Resent readings acknowledged again and stored once', [], () => [[{}, deps.ingest.stats().duplicates]]);

  gauge('sps_mqtt_clients', 'MQTT connections on this node', [], () => [[{}, deps.broker.clientCount]]);
  gauge('sps_devices_online', 'Devices connected to this node', [], () => [[{}, deps.broker.onlineCount()]]);
  gauge('sps_ingest_pending', 'Readings accepted and not yet written, per sink (queue depth)', ['sink'], () => Object.entries(deps.ingest.stats().sinks).map(([sink, s]) => [{ sink }, s.pending]));
  gauge('sps_sink_lag_seconds', 'Age of the oldest reading waiting for a sink', ['sink'], () => Object.entries(deps.ingest.stats().sinks).map(([sink, s]) => [{ sink }, s.oldestMs / 1000]));
  gauge('sps_sink_spool_points', 'Points spooled to disk for a sink that is down', ['sink'], () => Object.entries(deps.ingest.stats().sinks).map(([sink, s]) => [{ sink }, s.spooled]));
  gauge('sps_dead_letters_pending', 'Dead letters waiting to be written', [], () => [[{}, deps.ingest.stats().deadLetters.pending]]);
  gauge('sps_rules_write_queue', 'Alarm changes waiting to be written', [], () => [[{}, deps.rules.stats().writeQueue]]);
  gauge('sps_rules_deadlines', 'Rule deadlines armed on this node (holds, verify times, silence)', [], () => [[{}, deps.rules.stats().deadlines]]);
  gauge('sps_alarms_open', 'Open alarms in the store (the whole cluster)', [], async () => {
    const { rows } = await deps.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM alarms WHERE state <> 'cleared'`);
    return [[{}, rows[0]!.n]];
  });
  gauge('sps_work_items_open', 'Open work orders and tickets in the store, by kind and severity (the whole cluster)', ['kind', 'severity'], async () => {
    const { rows } = await deps.db.query<{ kind: string; severity: string; n: number }>(`SELECT kind, severity, count(*)::int AS n FROM work_items WHERE status NOT IN ${FINISHED_SQL} GROUP BY kind, severity`);
    return rows.map((r) => [{ kind: r.kind, severity: r.severity }, r.n]);
  });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
