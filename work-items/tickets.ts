import type { Severity } from '../core/domain.ts';
import type { User } from '../core/store/users.ts';
import type { WorkItemContext } from './context.ts';
import { blankItem } from './intake.ts';
import { entry } from './move.ts';
import { insertOrCount, type WorkItem } from './store.ts';

export interface TicketInput {
  category: string;
  description: string;
  buildingId: string;
  unit?: string;
  room?: string;
  photos?: string[];
  severity?: Severity;
}

/** Where a ticket's building hangs in the tree. */
export type BuildingPlacement = { buildingId: string; microGridId: string | null; gridId: string | null; communityId: string | null; streetId: string | null };

/** 一键报修: a resident (or staff for them) files a ticket for a building; its first timeline entry is written with it. */
export async function fileTicket(ctx: WorkItemContext, user: User, input: TicketInput, placement: BuildingPlacement): Promise<WorkItem> {
  const now = ctx.clock.now();
  const severity = input.severity ?? 'minor';
  const item: WorkItem = {
    ...blankItem('ticket', now),
    severity,
    category: input.category,
    title: `${input.category}: ${input.description.slice(0, 60)}`,
    description: input.description,
    source: user.role === 'resident' ? 'resident' : 'staff',
    ...placement,
    location: { buildingId: input.buildingId, unit: input.unit, room: input.room },
    reporterId: user.id,
    photos: input.photos ?? [],
    ...ctx.sla.deadlinesFor(severity, now),
  };
  const { item: stored } = await insertOrCount(ctx.db, item, entry(ctx, user, 'collect', null, 'collected', input.description, input.photos ?? [], { category: input.category }));
  ctx.emit({ kind: 'work_item', event: 'created', at: stored.createdAt, item: stored, actor: { id: user.id, role: user.role } });
  ctx.sla.arm(stored);
  return stored;
}
