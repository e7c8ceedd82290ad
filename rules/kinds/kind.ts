import { z } from 'zod';
import { DEPARTMENTS, ITEM_KINDS, SEVERITIES } from '../../core/domain.ts';
import type { EvidenceReading } from '../alarm.ts';

/**
 * What every rule kind is made of. A kind (threshold, boolean, event, count, silence) is one module
 * in this folder that declares its input schema, the parameters a site may override, what it
 * listens to, its state machine step, what its due time does and where its deadline is after a
 * restart; `index.ts` lists them. The engine knows no kind by name.
 *
 *   normal ──breach──▶ pending ──hold elapsed──▶ active ──back past clear──▶ clearing ──verify elapsed──▶ normal
 *                         │ not breaching             ▲ breach / in band         │
 *                         ▼                           └──────────────────────────┘
 *                       normal (cancel)
 */
export type Phase = 'normal' | 'pending' | 'active' | 'clearing';

/** What a step asks of the engine. */
export type StepAction =
  | 'none'
  | 'pending' // hold started: open a pending alarm
  | 'hit' // another breaching reading while pending: evidence, count
  | 'raise' // the alarm becomes active
  | 'repeat' // another breach while active: count, last seen
  | 'cancel' // the hold failed: the pending alarm never was
  | 'clearing' // back past the clear level: the verify time starts
  | 'resume' // the verify failed: active again
  | 'clear'; // the alarm is over

export interface Step {
  phase: Phase;
  action: StepAction;
  /** When the state wants to be woken next (undefined: only a reading moves it). */
  due?: number;
  /** The reading that resumed the alarm was itself a breach: count it. */
  repeat?: boolean;
  /** The reading is back past the clear level: kept as proof for 无感销. */
  recovered?: boolean;
  /** The kind's memory changed (a count window, floors seen): written so a restart resumes it. */
  memory?: Record<string, unknown>;
  /** More departments to whistle on the alarm (a repeat throw from the same floor). */
  whistle?: string[];
  /** Send the rule's downlink command (hold the elevator door). */
  command?: boolean;
}

/** One (device, rule)'s state as a kind sees it. */
export interface KindState {
  phase: Phase;
  due: number | undefined;
  memory?: Record<string, unknown>;
}

/**
 * What a kind may know of the device and the moment. The engine reuses one object for every call
 * (no allocation per reading): read it, never keep it.
 */
export interface Env {
  now: number;
  /** The device type's heartbeat (s). */
  heartbeatS: number;
  /** When the device last sent anything (ms). */
  lastSeen: number;
}

const raises = z.object({
  /** A grid work order (网格工单) or a property ticket (物业报修). */
  item: z.enum(ITEM_KINDS),
  severity: z.enum(SEVERITIES),
  whistle: z.array(z.enum(DEPARTMENTS)).default([]),
  /** 无感销: the item may close itself once the reading stays normal for `verifyS`. */
  autoClose: z.boolean().default(false),
  category: z.string().optional(),
});

/** The fields every rule has, whatever its kind. */
export const ruleBase = {
  id: z.string().regex(/^[a-z0-9-]+$/),
  /** The condition in Chinese, as people read it in titles (`烟雾浓度超标`); the English is `description`. */
  title: z.string().min(1).optional(),
  description: z.string(),
  /** The work item an alarm of this rule opens; absent for rules that only act (a downlink) and record. */
  raises: raises.optional(),
  /** Seconds the condition must stay cleared before the alarm clears. */
  verifyS: z.number().nonnegative().default(0),
  /**
   * Storm grouping: alarms of the same `group` from different devices in one `scope` (a building by
   * default) within `windowS` of each other join one incident instead of standing alone.
   */
  storm: z.object({
    group: z.string().regex(/^[a-z0-9-]+$/).optional(),
    scope: z.enum(['building', 'micro_grid', 'grid']).default('building'),
    windowS: z.number().positive().default(300),
  }).default({ scope: 'building', windowS: 300 }),
};

/** The work-item policy every kind shares: which item, how urgent, whether it may close itself. */
export const policyParams = {
  item: z.enum(['work_order', 'ticket', 'none']),
  severity: z.enum(SEVERITIES),
  autoClose: z.boolean(),
};

/** A kind's input schema: the base fields, its `kind` literal and its own fields. */
export function kindSchema<K extends string, S extends z.ZodRawShape>(kind: K, fields: S) {
  return z.object({ ...ruleBase, kind: z.literal(kind), ...fields });
}

type AnyKindSchema = ReturnType<typeof kindSchema<string, z.ZodRawShape>>;

export interface RuleKind<S extends AnyKindSchema = AnyKindSchema, R = z.output<S>> {
  kind: string;
  /** The rule's input schema (`kindSchema`): what a device file may write, with defaults. */
  schema: S;
  /** What a site may override (beyond `enabled` and the policy), with the bounds that hold for overrides. */
  params: z.ZodRawShape;
  /** What it listens to: a property, an event, or every message from the device. */
  listensTo: 'prop' | 'event' | 'message';
  /** The property or event it watches (checked against the device type at load). */
  target?(rule: R): string;
  /** Consistency the schema cannot see field by field (a hysteresis band the wrong way round). */
  problem?(rule: R): { field: string; message: string } | undefined;
  /**
   * A reading for this rule: a property's value, an event's data, or (every message) undefined.
   * `s` is undefined while the rule is quiet; return undefined when the reading changes nothing
   * (the common case allocates nothing).
   */
  step(rule: R, s: KindState | undefined, value: unknown, env: Env): Step | undefined;
  /** The state's due time has come. */
  due(rule: R, s: KindState, env: Env): Step;
  /** An alarm loaded after a restart: the deadline it had before the stop. */
  resume(rule: R, s: KindState, alarm: { since: number; lastSeenAt: number }, env: Env): number | undefined;
  /** A parameter changed (an override): the new deadline of a quiet state, where the kind keeps one. */
  rearm?(rule: R, s: KindState, env: Env): number | undefined;
  /** What an alarm records when it opens, beyond the reading: its count, readings, numbers. */
  atOpen?(rule: R, s: KindState, env: Env): { count?: number; readings?: EvidenceReading[]; params?: Record<string, unknown> };
  /** The fixed shape an alarm records with its numbers (the property and direction it watches). */
  describe(rule: R): Record<string, unknown>;
}

export const seconds = (s: number) => s * 1000;
