import type { User } from '../core/store/users.ts';
import type { WorkItemContext } from './context.ts';
import { entry } from './move.ts';
import { linkPhotos } from './photos.ts';
import { insertOrCount, type WorkItem } from './store.ts';

/** Where a building hangs in the tree (what a filed item is routed by). */
export type BuildingPlacement = { buildingId: string; microGridId: string | null; gridId: string | null; communityId: string | null; streetId: string | null; names: { building: string; community: string | null; grid: string | null } };

/**
 * An item a person files (一键报修, 事件上报): stored with its first timeline entry and its photos
 * in one transaction, announced, and its SLA clock started.
 */
export async function storeFiled(ctx: WorkItemContext, user: User, item: WorkItem, note: string, data: Record<string, unknown>): Promise<WorkItem> {
  const stored = await ctx.db.transaction(async (tx) => {
    const { item: row } = await insertOrCount(tx, item, entry(ctx, user, 'collect', null, 'collected', note, item.photos, data));
    await linkPhotos(tx, row.id, item.photos);
    return row;
  });
  ctx.emit({ kind: 'work_item', event: 'created', at: stored.createdAt, item: stored, actor: { id: user.id, role: user.role } });
  ctx.sla.arm(stored);
  return stored;
}
