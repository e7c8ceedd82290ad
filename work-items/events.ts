import type { RulesEvent } from '../rules/events.ts';
import type { WorkItem } from './store.ts';

/** A work-item event: MQTT `platform/workitems/{event}/{kind}/{gridId}/{id}`, SSE, metrics, notifications. */
export interface WorkItemEvent {
  kind: 'work_item';
  event: 'created' | 'counted' | 'transition' | 'escalated' | 'reminder' | 'whistled' | 'report_in_late';
  at: string;
  item: WorkItem;
  action?: string;
  actor?: { id: string; role: string };
  data?: Record<string, unknown>;
}

/** Everything that travels on the platform's event bus (core/event-bus.ts). */
export type PlatformEvent = RulesEvent | WorkItemEvent;

export function workItemTopic(e: WorkItemEvent): string {
  return `platform/workitems/${e.event}/${e.item.kind}/${e.item.gridId ?? '-'}/${e.item.id}`;
}
