import type { Severity } from '../core/domain.ts';
import { onDuty, type User } from '../core/store/users.ts';
import type { WorkItemContext } from './context.ts';
import { storeFiled, type BuildingPlacement } from './filed.ts';
import { blankItem } from './intake.ts';
import type { WorkItem } from './store.ts';
import { filedTitle } from './texts.ts';

export interface ReportInput {
  /** `fire_exit_blocked`, `flying_wire_charging`, `fallen_tree`… (core/vocabulary.ts), or the reporter's own words. */
  category: string;
  description: string;
  buildingId: string;
  /** Where at the building: `3单元楼道`, `北门外`. */
  place?: string;
  photos?: string[];
  severity?: Severity;
}

/**
 * 事件上报: a grid worker's patrol finding (巡查上报) or a resident's report of a public-safety
 * problem becomes a grid work order like a sensor's: routed to the grid's worker on duty, through
 * the six steps, rated by the resident who raised it.
 */
export async function reportIncident(ctx: WorkItemContext, user: User, input: ReportInput, at: BuildingPlacement): Promise<WorkItem> {
  const { names, ...placement } = at;
  const now = ctx.clock.now();
  // A public-safety problem someone took the trouble to report is not routine: major unless they say otherwise.
  const severity = input.severity ?? 'major';
  const onDutyId = placement.gridId ? await onDuty(ctx.db, placement.gridId) : undefined;
  const item: WorkItem = {
    ...blankItem('work_order', now),
    severity,
    category: input.category,
    title: filedTitle('work_order', names, input.place, input.category, input.description),
    description: input.description,
    source: user.role === 'grid_worker' ? 'patrol' : user.role === 'resident' ? 'resident' : 'staff',
    ...placement,
    location: { buildingId: input.buildingId, ...(input.place ? { place: input.place } : {}) },
    reporterId: user.id,
    assigneeId: onDutyId ?? null,
    photos: input.photos ?? [],
    ...ctx.sla.deadlinesFor(severity, now),
  };
  return storeFiled(ctx, user, item, input.description, { category: input.category, assigneeId: item.assigneeId });
}
