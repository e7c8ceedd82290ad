import { z } from 'zod';
import { boolean } from './boolean.ts';
import { count } from './count.ts';
import { event } from './event.ts';
import type { RuleKind } from './kind.ts';
import { silence } from './silence.ts';
import { threshold } from './threshold.ts';

export type { Env, KindState, Phase, RuleKind, Step, StepAction } from './kind.ts';

/** Every rule kind, in one list. A new kind is a module in this folder and a line here. */
export const RULE_KINDS = [threshold, boolean, event, count, silence] as const;

/** A rule as the catalog holds it: one of the kinds' schemas, parsed. */
export type Rule = z.output<(typeof RULE_KINDS)[number]['schema']>;
export type RuleInput = z.input<(typeof RULE_KINDS)[number]['schema']>;
export type RuleKindName = Rule['kind'];

const BY_NAME = new Map<string, RuleKind>(RULE_KINDS.map((k) => [k.kind, k as unknown as RuleKind]));
export const KIND_NAMES = RULE_KINDS.map((k) => k.kind);

/** The kind module behind a rule (the catalog refused any other kind at load). */
export function kindOf(rule: { kind: string }): RuleKind {
  const k = BY_NAME.get(rule.kind);
  if (!k) throw new Error(`rule kind ${rule.kind} is not one of ${KIND_NAMES.join(', ')}`);
  return k;
}

/** The schema of any rule, for documentation and the override API. */
export const ruleSchema = z.discriminatedUnion('kind', RULE_KINDS.map((k) => k.schema) as unknown as [(typeof RULE_KINDS)[number]['schema'], ...(typeof RULE_KINDS)[number]['schema'][]]);

/** What a device type offers a rule to watch (the catalog passes its definition). */
export interface RuleHost {
  props: Record<string, unknown>;
  events: Record<string, unknown>;
}

/**
 * Parses one rule of a device file against its kind: an unknown kind, a field the kind's schema
 * refuses, a band the wrong way round or a watched property the type does not have stops the
 * catalog from loading, naming the file, the rule and the field.
 */
export function compileRule(raw: unknown, where: { file: string; index: number; host: RuleHost }): Rule {
  const at = `device definition ${where.file}: rules[${where.index}]`;
  const kindName = (raw as { kind?: unknown } | null)?.kind;
  const kind = typeof kindName === 'string' ? BY_NAME.get(kindName) : undefined;
  if (!kind) throw new Error(`${at}.kind: unknown rule kind ${JSON.stringify(kindName)}; known kinds: ${KIND_NAMES.join(', ')}`);
  const parsed = kind.schema.strict().safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.join('.');
    throw new Error(`${at}.${key}: ${issue.code === 'unrecognized_keys' ? `a ${kind.kind} rule has no field ${issue.keys.join(', ')}` : issue.message}`);
  }
  const rule = parsed.data as Rule;
  rule.storm.group ??= rule.id;
  const problem = kind.problem?.(rule);
  if (problem) throw new Error(`${at}.${problem.field} (rule ${rule.id}): ${problem.message}`);
  const target = kind.target?.(rule);
  if (kind.listensTo === 'prop' && !(target! in where.host.props)) throw new Error(`${at}.prop (rule ${rule.id}): watches unknown property ${target}`);
  if (kind.listensTo === 'event' && !(target! in where.host.events)) throw new Error(`${at}.event (rule ${rule.id}): watches unknown event ${target}`);
  return rule;
}
