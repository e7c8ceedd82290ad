import { z } from 'zod';
import { inScope, scopeFor } from '../../core/reach.ts';
import { overview } from '../../work-items/overview.ts';
import type { ApiDeps, App } from '../deps.ts';

const tally = z.object({ devices: z.number(), online: z.number(), onlineRate: z.number().nullable() });

/** 一屏统揽: the numbers of the overview page, each within the caller's reach of its kind of data. */
export default async function overviewRoutes(app: App, deps: ApiDeps) {
  app.get('/overview', {
    // For those who watch places (alarms): a department or a resident has no overview of grids.
    config: { reach: 'alarms' },
    schema: {
      tags: ['work orders'],
      summary: '一屏统揽: devices and online rate by type and by grid, open alarms and items per grid with their worst severity, open items by severity and level, SLA breaches and escalations today',
      response: {
        200: z.object({
          devicesByType: z.record(z.string(), tally),
          devicesByGrid: z.array(tally.extend({ gridId: z.string().nullable(), communityId: z.string().nullable() })),
          alarmsByGrid: z.array(z.object({ gridId: z.string().nullable(), communityId: z.string().nullable(), open: z.number(), worst: z.string().nullable() })),
          itemsByGrid: z.array(z.object({ gridId: z.string().nullable(), communityId: z.string().nullable(), open: z.number(), worst: z.string().nullable() })),
          openItems: z.array(z.object({ kind: z.string(), severity: z.string(), level: z.string(), count: z.number() })),
          today: z.object({ since: z.string(), slaBreaches: z.number(), escalations: z.number(), created: z.number(), closed: z.number() }),
        }),
      },
    },
  }, async (req) => {
    const u = req.user;
    // Presence is the broker's live view; the directory says where each device hangs.
    const devices = scopeFor(u, 'devices');
    const byType = new Map<string, { devices: number; online: number }>();
    const byGrid = new Map<string, { gridId: string | null; communityId: string | null; devices: number; online: number }>();
    for (const p of deps.directory.all()) {
      if (!inScope(devices, p)) continue;
      const online = deps.broker.isOnline(p.deviceId) ? 1 : 0;
      const t = byType.get(p.type) ?? byType.set(p.type, { devices: 0, online: 0 }).get(p.type)!;
      t.devices++;
      t.online += online;
      const key = `${p.gridId}|${p.communityId}`;
      const g = byGrid.get(key) ?? byGrid.set(key, { gridId: p.gridId, communityId: p.communityId, devices: 0, online: 0 }).get(key)!;
      g.devices++;
      g.online += online;
    }
    const rate = <T extends { devices: number; online: number }>(t: T) => ({ ...t, onlineRate: t.devices ? t.online / t.devices : null });
    const numbers = await overview(deps.db, { alarms: scopeFor(u, 'alarms'), items: scopeFor(u, 'work_orders'), tickets: scopeFor(u, 'tickets') });
    return {
      devicesByType: Object.fromEntries([...byType].map(([type, t]) => [type, rate(t)])),
      devicesByGrid: [...byGrid.values()].map(rate),
      ...numbers,
    };
  });
}
