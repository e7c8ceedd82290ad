import type { AlarmEventName, AlarmView } from './alarm.ts';
import type { Incident } from './incident-store.ts';

/** What the rules service tells the rest of the platform (the work-item layer, MQTT consumers). */
export type RulesEvent =
  | { kind: 'alarm'; event: AlarmEventName; at: string; alarm: AlarmView }
  | { kind: 'incident'; event: 'opened' | 'updated' | 'closed'; at: string; incident: Incident };

/**
 * MQTT topics for services (DESIGN §5): the event name first, so `platform/alarms/raised/#` takes
 * every new alarm, and the grid next, so a grid's console takes `platform/alarms/+/{gridId}/#`.
 */
export function eventTopic(e: RulesEvent): string {
  if (e.kind === 'alarm') return `platform/alarms/${e.event}/${e.alarm.gridId ?? '-'}/${e.alarm.deviceId}`;
  return `platform/incidents/${e.event}/${e.incident.scopeId}`;
}
