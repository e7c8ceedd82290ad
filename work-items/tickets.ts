import type { Severity } from '../core/domain.ts';
import type { User } from '../core/store/users.ts';
import type { WorkItemContext } from './context.ts';
import { storeFiled, type BuildingPlacement } from './filed.ts';
import { blankItem } from './intake.ts';
import type { WorkItem } from './store.ts';
import { filedTitle } from './texts.ts';

export type { BuildingPlacement } from './filed.ts';

export interface TicketInput {
  category: string;
  description: string;
  buildingId: string;
  unit?: string;
  room?: string;
  /** Ids of the filer's uploaded photos. */
  photos?: string[];
  severity?: Severity;
}

/** 一键报修: a resident (or staff for them) files a ticket for a building; its first timeline entry is written with it. */
export function fileTicket(ctx: WorkItemContext, user: User, input: TicketInput, at: BuildingPlacement): Promise<WorkItem> {
  const { names, ...placement } = at;
  const now = ctx.clock.now();
  const where = [input.unit && `${input.unit}单元`, input.room && `${input.room}室`].filter(Boolean).join('');
  const severity = input.severity ?? 'minor';
  const item: WorkItem = {
    ...blankItem('ticket', now),
    severity,
    category: input.category,
    title: filedTitle('ticket', names, where || undefined, input.category, input.description),
    description: input.description,
    source: user.role === 'resident' ? 'resident' : 'staff',
    ...placement,
    location: { buildingId: input.buildingId, unit: input.unit, room: input.room },
    reporterId: user.id,
    photos: input.photos ?? [],
    ...ctx.sla.deadlinesFor(severity, now),
  };
  return storeFiled(ctx, user, item, input.description, { category: input.category });
}
