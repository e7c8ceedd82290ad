import type { Catalog } from '../devices/lib/catalog.ts';
import { measurementOf } from '../ingest/influx/line-protocol.ts';
import { deviceTypeDashboard } from './device-types.ts';
import { overview } from './overview.ts';
import { workOrders } from './work-orders.ts';

/** Every dashboard, by the file name it is committed under in dashboards/json/. */
export function buildDashboards(catalog: Catalog): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'overview.json': overview(catalog.ids().map((t) => measurementOf(t, 'telemetry'))),
    'work-orders.json': workOrders(),
  };
  for (const t of catalog.types.values()) out[`device-${t.id}.json`] = deviceTypeDashboard(t);
  return out;
}

export const render = (d: unknown) => JSON.stringify(d, null, 2) + '\n';
