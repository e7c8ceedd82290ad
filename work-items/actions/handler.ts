import type { ActInput, Actor, WorkItemContext } from '../context.ts';
import type { Whistle, WorkItem } from '../store.ts';
import type { Action } from '../transitions.ts';

/** One action on one item, already checked against the table and the actor's reach. */
export interface ActionRequest {
  action: Action;
  item: WorkItem;
  actor: Actor;
  input: ActInput;
  /** The item's whistled departments, as read with the item. */
  whistles: Whistle[];
}

export type ActionHandler = (ctx: WorkItemContext, req: ActionRequest) => Promise<WorkItem>;
