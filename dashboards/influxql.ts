import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

/** The one datasource every panel uses; its uid is fixed in provisioning/datasources/influxdb.yaml. */
export const DATASOURCE: dashboard.DataSourceRef = { type: 'influxdb', uid: 'sps-influxdb' };

/** Grafana's InfluxQL target, which the foundation SDK has no builder for (its custom-query pattern). */
export interface InfluxQLTarget extends cog.Dataquery {
  refId: string;
  datasource: dashboard.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
}

export class InfluxQLQuery implements cog.Builder<cog.Dataquery> {
  private readonly target: InfluxQLTarget;

  constructor(query: string, refId = 'A') {
    this.target = { refId, datasource: DATASOURCE, query, rawQuery: true, resultFormat: 'time_series', _implementsDataqueryVariant() {} };
  }

  table(): this {
    this.target.resultFormat = 'table';
    return this;
  }

  build(): cog.Dataquery {
    return this.target;
  }
}

/** The filter every reading panel carries: the dashboard's community and grid variables. */
export const PLACE = `"community" =~ /^$community$/ AND "grid" =~ /^$grid$/`;
