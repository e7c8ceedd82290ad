import type { Placement } from '../core/directory.ts';

export type AlarmState = 'pending' | 'active' | 'clearing' | 'cleared';

/** One reading that proved (part of) an alarm. */
export interface EvidenceReading {
  /** Device time of the reading (ms epoch). */
  ts: number;
  /** Platform time it was evaluated. */
  at: number;
  /** The property's value, or the event's data. */
  value: unknown;
}

/** What proved an alarm: the rule and numbers in force, the readings that crossed, any snapshots. */
export interface Evidence {
  rule: { id: string; kind: string; description: string };
  params: Record<string, unknown>;
  /** The first readings that crossed the trigger (bounded), oldest first. */
  readings: EvidenceReading[];
  /** The most recent breaching reading. */
  last?: EvidenceReading;
  /** Camera and elevator snapshot URLs from the events (bounded). */
  snapshots: string[];
  /** The readings back past the clear level that ended it (bounded): proof for 无感销. */
  recovery?: EvidenceReading[];
}

export const MAX_EVIDENCE_READINGS = 10;
export const MAX_SNAPSHOTS = 20;

/**
 * An alarm as the engine holds it. `unsaved` counts repeats not yet written; the store adds them to
 * its own count, so two ingest instances counting the same alarm both land.
 */
export interface AlarmRecord {
  id: string;
  deviceId: string;
  type: string;
  ruleId: string;
  state: AlarmState;
  severity: string | null;
  item: 'work_order' | 'ticket' | null;
  whistle: string[];
  count: number;
  since: number;
  pendingSince: number | null;
  raisedAt: number | null;
  lastSeenAt: number;
  clearedAt: number | null;
  placement: Placement;
  /** The storm this alarm can join: its group, the unit it gathers in, and the window. */
  storm: { group: string; scope: 'building' | 'micro_grid' | 'grid'; scopeId: string | null; windowS: number };
  incidentId: string | null;
  params: Record<string, unknown>;
  evidence: Evidence;
  // write bookkeeping
  persisted: boolean;
  /** A pending hold that failed: removed from the store, never announced. */
  dropped: boolean;
  unsaved: number;
  version: number;
  savedVersion: number;
  /** Lifecycle events waiting for the write that makes them true. */
  events: AlarmEventName[];
}

export type AlarmEventName = 'raised' | 'updated' | 'cleared';

/** An alarm as the API lists it and as `platform/alarms/...` carries it. */
export interface AlarmView {
  id: string;
  deviceId: string;
  type: string;
  ruleId: string;
  state: AlarmState;
  severity: string | null;
  item: 'work_order' | 'ticket' | null;
  whistle: string[];
  count: number;
  pendingSince: string | null;
  raisedAt: string | null;
  lastSeenAt: string;
  clearedAt: string | null;
  buildingId: string;
  microGridId: string | null;
  gridId: string | null;
  communityId: string | null;
  incidentId: string | null;
  params: Record<string, unknown>;
  evidence: Evidence;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function alarmView(a: AlarmRecord): AlarmView {
  return {
    id: a.id,
    deviceId: a.deviceId,
    type: a.type,
    ruleId: a.ruleId,
    state: a.state,
    severity: a.severity,
    item: a.item,
    whistle: a.whistle,
    count: a.count,
    pendingSince: iso(a.pendingSince),
    raisedAt: iso(a.raisedAt),
    lastSeenAt: iso(a.lastSeenAt)!,
    clearedAt: iso(a.clearedAt),
    buildingId: a.placement.buildingId,
    microGridId: a.placement.microGridId,
    gridId: a.placement.gridId,
    communityId: a.placement.communityId,
    incidentId: a.incidentId,
    params: a.params,
    evidence: a.evidence,
  };
}

/** Adds a breaching reading to the evidence: the first few kept whole, the latest always. */
export function addEvidence(e: Evidence, r: EvidenceReading, snapshotUrl?: unknown): boolean {
  let grew = false;
  if (e.readings.length < MAX_EVIDENCE_READINGS) {
    e.readings.push(r);
    grew = true;
  }
  e.last = r;
  if (typeof snapshotUrl === 'string' && e.snapshots.length < MAX_SNAPSHOTS && !e.snapshots.includes(snapshotUrl)) {
    e.snapshots.push(snapshotUrl);
    grew = true;
  }
  return grew;
}
