import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type { DeviceType } from '../devices/lib/catalog.ts';
import { measurementOf } from '../ingest/influx/line-protocol.ts';
import { PLACE } from './influxql.ts';
import { graph, grid, placeVariables } from './parts.ts';

/**
 * One dashboard per device type, from the panels its file declares (devices/*.ts): numbers as
 * time series per device, booleans as each device's latest state, events as counts over time.
 */
export function deviceTypeDashboard(type: DeviceType): dashboard.Dashboard {
  const m = measurementOf(type.id, 'telemetry');
  const b = new dashboard.DashboardBuilder(`${type.definition.name}`).uid(`sps-${type.id}`).tags(['sps', 'device']).refresh('10s').time({ from: 'now-6h', to: 'now' });
  for (const v of placeVariables()) b.withVariable(v);
  for (const panel of type.definition.panels) {
    for (const prop of panel.props) {
      const spec = type.definition.props[prop];
      if (panel.kind === 'events' || !spec) {
        b.withPanel(graph(panel.title, `SELECT count("confidence") FROM "${measurementOf(type.id, 'event')}" WHERE $timeFilter AND "event" = '${prop}' AND ${PLACE} GROUP BY time($__interval), "deviceId" fill(none)`));
      } else if (spec.kind === 'boolean') {
        b.withPanel(grid(panel.title, `SELECT last("${prop}") FROM "${m}" WHERE $timeFilter AND ${PLACE} GROUP BY "deviceId"`));
      } else {
        b.withPanel(graph(panel.title, `SELECT mean("${prop}") FROM "${m}" WHERE $timeFilter AND ${PLACE} GROUP BY time($__interval), "deviceId" fill(none)`, grafanaUnit(panel.unit ?? (spec.kind === 'number' ? spec.unit : ''))));
      }
    }
  }
  return b.build();
}

/** Grafana's unit ids where one exists; otherwise a suffix. */
function grafanaUnit(unit: string): string {
  const known: Record<string, string> = { '%': 'percent', '°C': 'celsius', cm: 'lengthmm', ppm: 'ppm' };
  if (unit === 'cm') return 'suffix: cm';
  return known[unit] ?? (unit ? `suffix: ${unit}` : 'short');
}
