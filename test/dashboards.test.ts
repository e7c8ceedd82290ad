import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../rules/catalog.ts';
import { buildDashboards, render } from '../dashboards/build.ts';
import { JSON_DIR } from '../dashboards/generate.ts';
import { Simulator } from '../simulators/simulator.ts';
import { startTestPlatform, type TestPlatform } from './helpers/platform.ts';
import { haveBinary, influxQL, INFLUXD, startInfluxDB1, type Service } from './helpers/services.ts';

interface Panel { title: string; targets?: { query: string }[] }
interface Dash { title: string; panels: Panel[]; templating: { list: { name: string; query: string | Record<string, unknown>; type: string }[] } }

describe('dashboards as code', () => {
  it('the committed JSON is what the builders make (run `npm run dashboards` after a change)', async () => {
    const built = buildDashboards(await loadCatalog());
    expect(readdirSync(JSON_DIR).sort()).toEqual(Object.keys(built).sort());
    for (const [file, d] of Object.entries(built)) expect(readFileSync(path.join(JSON_DIR, file), 'utf8'), `${file} is stale`).toBe(render(d));
  });
});

const SITE = path.join(import.meta.dirname, 'fixtures', 'workitems-site.json');
let influx: Service | undefined;
let p: TestPlatform | undefined;
afterAll(async () => {
  await p?.dispose();
  await influx?.dispose();
});

/** Grafana's macros and the template variables, as Grafana would expand them for "All". */
const expand = (q: string) => q.replaceAll('$timeFilter', 'time > now() - 1h').replaceAll('$__interval', '1s').replaceAll('$community', '.*').replaceAll('$grid', '.*').replaceAll('$type', '.*');

describe.runIf(haveBinary(INFLUXD))('every panel query against InfluxDB', () => {
  it('returns a non-empty, well-typed series for data from a simulator run', async () => {
    influx = await startInfluxDB1();
    await influxQL(influx.url, '', 'CREATE DATABASE sps');
    const sla = { critical: { acceptS: 2, resolveS: 3600 }, major: { acceptS: 2, resolveS: 3600 }, minor: { acceptS: 2, resolveS: 3600 } };
    p = await startTestPlatform({ SITE_FILE: SITE, INFLUX_URL: influx.url, INFLUX_DATABASE: 'sps', METRICS_EVERY_S: 1, WORK_ITEM_SLA: JSON.stringify(sla) });
    const sim = new Simulator({ url: p.mqttUrl, catalog: p.catalog, credentials: p.credentials, scenarios: ['normal', 'fire', 'ebike-repeat', 'throw-repeat', 'manhole-open'], intervalS: 0.5, durationS: 8 });
    await sim.start();
    // People at work meanwhile: a ticket walked to a rating, a work order accepted.
    const t = (await p.api('POST', '/api/v1/tickets', { category: 'plumbing', description: 'leak', buildingId: 'ba1' })).body.id;
    for (const [action, extra] of [['accept', {}], ['dispatch', { assigneeId: 'ps-1' }], ['start', {}], ['resolve', {}], ['verify', {}], ['rate', { rating: { overall: 4, speed: 5, service: 4 } }]] as const) {
      expect((await p.api('POST', `/api/v1/tickets/${t}/actions`, { action, ...extra })).status).toBe(200);
    }
    await sim.done;
    await p.rules.flush();
    await p.workItems.idle();
    const wo = (await p.api('GET', '/api/v1/work-orders')).body.items[0];
    expect((await p.api('POST', `/api/v1/work-orders/${wo.id}/actions`, { action: 'accept' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2500)); // two more gauge samples
    await p.ingest.flush();

    let checked = 0;
    for (const file of readdirSync(JSON_DIR)) {
      const d = JSON.parse(readFileSync(path.join(JSON_DIR, file), 'utf8')) as Dash;
      const queries: [string, string][] = [
        ...d.templating.list.filter((v) => v.type === 'query').map((v) => [`variable ${v.name}`, String(v.query)] as [string, string]),
        ...d.panels.flatMap((panel) => (panel.targets ?? []).map((t) => [panel.title, t.query] as [string, string])),
      ];
      for (const [what, q] of queries) {
        const series = await influxQL(influx.url, 'sps', expand(q));
        expect(series.length, `${file} ${what}: ${expand(q)}`).toBeGreaterThan(0);
        for (const s of series) {
          const values = s.values.flatMap((row) => row.slice(s.columns[0] === 'time' ? 1 : 0)).filter((v) => v !== null);
          expect(values.length, `${file} ${what}`).toBeGreaterThan(0);
          const ok = what.startsWith('variable') ? values.every((v) => typeof v === 'string') : values.every((v) => typeof v === 'number' || typeof v === 'boolean');
          expect(ok, `${file} ${what}: ${JSON.stringify(values.slice(0, 5))}`).toBe(true);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(25);
  }, 90_000);
});
