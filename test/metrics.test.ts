import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform();
});
afterAll(async () => {
  await p?.dispose();
});

/** One sample's value from Prometheus' text format. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  it('counts messages in, rejects by reason, open items and alarms, in Prometheus text format with the node label', async () => {
    const base = `http://127.0.0.1:${p.ports.http}`;
    const before = await (await fetch(`${base}/metrics`)).text();
    const c = p.cred('smoke-detector');
    const dev = await connectDevice(p, c);
    const topic = `v1/smoke-detector/${c.id}/telemetry`;
    await dev.publishAsync(topic, JSON.stringify({ props: { temperatureC: 80 } }), { qos: 1 });
    await dev.publishAsync(topic, JSON.stringify({ props: { temperatureC: 'hot' } }), { qos: 1 });
    await dev.endAsync();
    await p.ingest.flush();
    await p.rules.flush();
    await p.workItems.idle();
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('# TYPE sps_mqtt_messages_in_total counter');
    expect(sample(text, 'sps_mqtt_messages_in_total', 'node="local"')! - (sample(before, 'sps_mqtt_messages_in_total') ?? 0)).toBe(2);
    const reasons = text.split('\n').filter((l) => l.startsWith('sps_ingest_rejected_total{'));
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.some((l) => /reason="[a-z_]+"/.test(l) && l.endsWith(' 1'))).toBe(true);
    expect(sample(text, 'sps_alarms_open')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'sps_work_items_open', 'severity="critical"')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'sps_ingest_pending', 'sink="embedded"')).toBe(0);
    expect(text).toMatch(/^sps_nodejs_eventloop_lag_seconds\{/m);
    expect(sample(text, 'sps_mqtt_clients')).toBeGreaterThanOrEqual(0);
  });
});
