import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PLACE } from './influxql.ts';
import { graph, grid, placeVariables, single, typeVariable } from './parts.ts';

/** 一屏统揽: the property manager's one screen. */
export function overview(types: string[]): dashboard.Dashboard {
  return new dashboard.DashboardBuilder('一屏统揽 Overview')
    .uid('sps-overview')
    .tags(['sps'])
    .refresh('10s')
    .time({ from: 'now-6h', to: 'now' })
    .variables([...placeVariables(), typeVariable(types)])
    .withPanel(graph('设备在线率 Online rate by type', `SELECT last("onlineRate") FROM "devices" WHERE $timeFilter AND "type" =~ /^$type$/ GROUP BY time($__interval), "type" fill(previous)`, 'percentunit'))
    .withPanel(graph('在途告警 Active alarms by severity', `SELECT last("count") FROM "alarms_open" WHERE $timeFilter GROUP BY time($__interval), "severity" fill(previous)`))
    .withPanel(grid('在办工单 Open items by grid', `SELECT sum("count") AS "open", sum("overdue") AS "overdue" FROM (SELECT last("count") AS "count", last("overdue") AS "overdue" FROM "work_items_open" WHERE $timeFilter AND ${PLACE} GROUP BY "grid", "kind", "severity") GROUP BY "grid"`))
    .withPanel(graph('超时升级 SLA breaches', `SELECT sum("count") FROM "work_items_escalated" WHERE $timeFilter AND ${PLACE} GROUP BY time($__interval), "level" fill(0)`))
    .withPanel(graph('消息速率 Message rate', `SELECT non_negative_derivative(last("received"), 1s) AS "received/s", non_negative_derivative(last("rejected"), 1s) AS "rejected/s" FROM "platform_ingest" WHERE $timeFilter GROUP BY time($__interval)`, 'reqps'))
    .withPanel(single('今日新开工单 Items opened', `SELECT sum("count") FROM "work_items_opened" WHERE $timeFilter AND ${PLACE}`))
    .build();
}
