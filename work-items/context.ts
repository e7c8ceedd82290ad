import type { Directory } from '../core/directory.ts';
import type { Logger } from '../core/logger.ts';
import type { Db } from '../core/store/db.ts';
import type { User } from '../core/store/users.ts';
import type { Clock } from '../rules/clock.ts';
import type { EffectiveRule } from '../rules/params.ts';
import type { WorkItemEvent } from './events.ts';
import type { SlaTimers } from './sla.ts';
import type { Actor as ActorRole } from './transitions.ts';
import type { ReportInTimers } from './whistles.ts';

/** Who acts: a signed-in person, or the platform (role `platform`). */
export type Actor = Omit<User, 'role'> & { role: ActorRole };

/** The platform itself: auto-close, merge, escalation, relapse, the whistles a rule asks for. */
export const PLATFORM: Actor = { id: 'platform', name: '平台', role: 'platform', gridIds: [], communityIds: [], department: null };

/** What every part of the work-item layer works with (built once by `WorkItems`). */
export interface WorkItemContext {
  db: Db;
  log: Logger;
  clock: Clock;
  directory: Directory;
  emit(e: WorkItemEvent): void;
  /** The rule as it applies to a device, overrides and policy included (the rules engine knows). */
  ruleFor(deviceId: string, ruleId: string): EffectiveRule | undefined;
  /** A device type's name as people say it (烟感探测器), from the catalog. */
  typeName(type: string): string | undefined;
  sla: SlaTimers;
  reportIns: ReportInTimers;
  /** Whose turn it is next among a compound's staff (round-robin dispatch). */
  staffTurns: Map<string, number>;
  isoNow(): string;
}

/** What a person may give with an action (the API's body, validated). */
export interface ActInput {
  note?: string;
  photos?: string[];
  assigneeId?: string;
  departments?: string[];
  /** report_in / resolve recorded on a whistled department's behalf (代报到). */
  department?: string;
  rating?: { overall: number; speed: number; service: number; comment?: string };
  revisit?: { result: 'satisfied' | 'fair' | 'unsatisfied'; note?: string };
  /** merge: the item this one folds into. */
  intoId?: string;
}
