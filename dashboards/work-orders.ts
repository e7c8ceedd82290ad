import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PLACE } from './influxql.ts';
import { graph, grid, placeVariables } from './parts.ts';

/** 网格画像: how each grid answers its work orders and tickets. */
export function workOrders(): dashboard.Dashboard {
  const b = new dashboard.DashboardBuilder('网格画像 Work-order performance by grid').uid('sps-work-orders').tags(['sps', 'work-items']).refresh('30s').time({ from: 'now-7d', to: 'now' });
  for (const v of placeVariables()) b.withVariable(v);
  return b
    .withPanel(graph('新开工单 Items opened', `SELECT sum("count") FROM "work_items_opened" WHERE $timeFilter AND ${PLACE} GROUP BY time($__interval), "grid" fill(0)`))
    .withPanel(grid('平均响应 Mean time to accept (s)', `SELECT mean("acceptS") AS "accept s", count("acceptS") AS "accepted" FROM "work_items_accepted" WHERE $timeFilter AND ${PLACE} GROUP BY "grid"`))
    .withPanel(grid('平均办结 Mean time to close (s)', `SELECT mean("closeS") AS "close s", count("closeS") AS "closed" FROM "work_items_closed" WHERE $timeFilter AND ${PLACE} GROUP BY "grid", "by"`))
    .withPanel(grid('超时升级 Escalations', `SELECT sum("count") AS "escalations" FROM "work_items_escalated" WHERE $timeFilter AND ${PLACE} GROUP BY "grid", "level"`))
    .withPanel(grid('五星评价 Ratings', `SELECT mean("overall") AS "overall", mean("speed") AS "speed", mean("service") AS "service", count("overall") AS "ratings" FROM "work_items_rated" WHERE $timeFilter AND ${PLACE} GROUP BY "grid"`))
    .withPanel(graph('在办与超时 Open and overdue', `SELECT sum("count") AS "open", sum("overdue") AS "overdue" FROM "work_items_open" WHERE $timeFilter AND ${PLACE} GROUP BY time($__interval), "grid" fill(none)`))
    .build();
}
