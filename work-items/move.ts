import { DomainError } from '../core/errors.ts';
import type { Queryable } from '../core/store/db.ts';
import type { Actor, WorkItemContext } from './context.ts';
import { REFUSALS } from './texts.ts';
import { linkPhotos } from './photos.ts';
import { appendEvent, getItem, updateItem, type TimelineEntry, type WorkItem } from './store.ts';
import { allowedActions, nextStatus, permitted, type Action, type Status } from './transitions.ts';

/** What an action records besides the status: the fields it sets and the timeline entry's parts. */
export interface MoveInput {
  note?: string | null;
  photos?: string[];
  fields?: Partial<WorkItem>;
  data?: Record<string, unknown>;
  /** More writes that belong to the same step (a whistle's rows), in its transaction; what it returns joins `data`. */
  within?: (tx: Queryable) => Promise<Record<string, unknown> | void>;
}

/**
 * The one way an item changes status. The table decides (people and the platform alike); the
 * item's row and its timeline entry are written in one transaction, at the version the caller
 * read, so an item never moves without its 操作留痕 and two people acting at once cannot both win.
 * Then the event goes out and the SLA timer follows the item.
 */
export async function move(ctx: WorkItemContext, item: WorkItem, action: Action, actor: Actor, m: MoveInput = {}): Promise<WorkItem> {
  if (!permitted(action, item.kind, item.status, actor.role)) {
    throw new DomainError('WI_NOT_ALLOWED', REFUSALS.notAllowed(action, item.kind, item.status, actor.role), {
      status: item.status,
      allowed: allowedActions(item.kind, item.status, actor.role),
    });
  }
  const to = nextStatus(action, item.status);
  const data = { ...m.data };
  const updated = await write(ctx, item, actor, action, item.status, to, m, data);
  ctx.emit({ kind: 'work_item', event: 'transition', at: ctx.isoNow(), item: updated, action, actor: { id: actor.id, role: actor.role }, data });
  ctx.sla.arm(updated);
  return updated;
}

/**
 * A timeline entry that does not move the item (a repeat counted, a merge joined, a missed
 * deadline, a department's part finished), with the fields it changes: one transaction, like a
 * move. Throws WI_STALE if the item changed since it was read.
 */
export async function record(ctx: WorkItemContext, item: WorkItem, actor: Actor, what: string, m: MoveInput = {}): Promise<WorkItem> {
  return write(ctx, item, actor, what, item.status, item.status, m, { ...m.data });
}

/** Thrown inside the transaction when the item changed since it was read: everything in it rolls back. */
class Stale extends Error {}

async function write(ctx: WorkItemContext, item: WorkItem, actor: Actor, action: string, from: Status, to: Status, m: MoveInput, data: Record<string, unknown>): Promise<WorkItem> {
  try {
    return await ctx.db.transaction(async (tx) => {
      const u = await updateItem(tx, item.id, item.version, { ...m.fields, status: to });
      if (!u) throw new Stale();
      if (m.within) Object.assign(data, await m.within(tx));
      if (m.photos?.length) await linkPhotos(tx, item.id, m.photos);
      await appendEvent(tx, item.id, entry(ctx, actor, action, from, to, m.note ?? null, m.photos ?? [], data));
      return u;
    });
  } catch (err) {
    if (!(err instanceof Stale)) throw err;
  }
  const fresh = await getItem(ctx.db, item.id);
  throw new DomainError('WI_STALE', REFUSALS.stale(action, item.id, fresh?.status), {
    status: fresh?.status,
    allowed: fresh ? allowedActions(fresh.kind, fresh.status, actor.role) : [],
  });
}

/** Retries a platform step that lost a race with a person (a repeat counted while someone accepts). */
export async function withFresh<T>(ctx: WorkItemContext, item: WorkItem, step: (item: WorkItem) => Promise<T>, tries = 5): Promise<T | undefined> {
  let current: WorkItem | undefined = item;
  for (let i = 0; current && i < tries; i++) {
    try {
      return await step(current);
    } catch (err) {
      if (!(err instanceof DomainError) || err.code !== 'WI_STALE') throw err;
      current = await getItem(ctx.db, item.id);
    }
  }
  return undefined;
}

export function entry(ctx: WorkItemContext, actor: Actor, action: string, from: Status | null, to: Status | null, note: string | null, photos: string[], data: Record<string, unknown>): Omit<TimelineEntry, 'seq'> {
  return { at: ctx.isoNow(), actorId: actor.id, actorRole: actor.role, action, fromStatus: from, toStatus: to, note, photos, data };
}
