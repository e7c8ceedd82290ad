import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE, InfluxQLQuery } from './influxql.ts';

/** Template variables: community, then the grids of the chosen communities. */
export function placeVariables(): dashboard.QueryVariableBuilder[] {
  const v = (name: string, label: string, query: string) =>
    new dashboard.QueryVariableBuilder(name).label(label).query(query).datasource(DATASOURCE).includeAll(true).allValue('.*').multi(true).refresh(dashboard.VariableRefresh.OnTimeRangeChanged);
  return [
    v('community', '社区 Community', 'SHOW TAG VALUES WITH KEY = "community"'),
    v('grid', '网格 Grid', 'SHOW TAG VALUES WITH KEY = "grid" WHERE "community" =~ /^$community$/'),
  ];
}

export function typeVariable(types: string[]): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder('type').label('设备类型 Device type').values(types.join(',')).includeAll(true).allValue('.*').multi(true);
}

export const graph = (title: string, query: string, unit = 'short', w = 12) =>
  new timeseries.PanelBuilder().title(title).datasource(DATASOURCE).withTarget(new InfluxQLQuery(query)).unit(unit).span(w).height(8);

export const single = (title: string, query: string, unit = 'short', w = 6) =>
  new stat.PanelBuilder().title(title).datasource(DATASOURCE).withTarget(new InfluxQLQuery(query)).unit(unit).span(w).height(6);

export const grid = (title: string, query: string, w = 12) => new table.PanelBuilder().title(title).datasource(DATASOURCE).withTarget(new InfluxQLQuery(query).table()).span(w).height(8);
