import type { z } from 'zod';
import type { DeviceType } from '../devices/lib/catalog.ts';
import type { Reading } from '../core/store/readings.ts';

export type RejectReason =
  | 'payload_too_large'
  | 'invalid_json'
  | 'invalid_envelope'
  | 'empty_props'
  | 'unknown_property'
  | 'wrong_type'
  | 'out_of_range'
  | 'invalid_value'
  | 'invalid_text'
  | 'missing_field'
  | 'unknown_event'
  | 'unknown_type';

export type Validation = { ok: true; reading: Reading } | { ok: false; reason: RejectReason; detail: string };

/** Device clocks drift and reset: a timestamp is used only inside this window around server time. */
export const MAX_AHEAD_MS = 5 * 60_000;
export const MAX_AGE_MS = 24 * 3_600_000;

/** The first two checks of every device payload: its size, then that it is JSON at all. */
export function parsePayload(payload: Buffer, maxPayloadBytes: number): { ok: true; body: unknown } | { ok: false; reason: 'payload_too_large' | 'invalid_json'; detail: string } {
  if (payload.length > maxPayloadBytes) return { ok: false, reason: 'payload_too_large', detail: `${payload.length} bytes, limit ${maxPayloadBytes}` };
  try {
    return { ok: true, body: JSON.parse(payload.toString('utf8')) };
  } catch (err) {
    return { ok: false, reason: 'invalid_json', detail: (err as Error).message };
  }
}

/**
 * Validates one device message against its type's schemas (from the catalog) and turns it into a
 * reading. Each kind of bad input gets its own reason, so dead letters say what was wrong.
 */
export function validateMessage(
  type: DeviceType | undefined,
  deviceId: string,
  kind: 'telemetry' | 'event',
  payload: Buffer,
  now: number,
  maxPayloadBytes: number,
): Validation {
  if (!type) return { ok: false, reason: 'unknown_type', detail: 'device type is not in the catalog' };
  const json = parsePayload(payload, maxPayloadBytes);
  if (!json.ok) return json;
  const body = json.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, reason: 'invalid_envelope', detail: 'payload must be a JSON object' };
  const msg = body as Record<string, unknown>;

  let parsed: { ts?: number; seq?: number; props?: Record<string, unknown>; event?: string; data?: Record<string, unknown> };
  if (kind === 'telemetry' && type.telemetryOk(msg)) {
    parsed = msg as typeof parsed;
  } else if (kind === 'telemetry') {
    const props = msg.props;
    if (typeof props !== 'object' || props === null || Array.isArray(props)) return { ok: false, reason: 'invalid_envelope', detail: 'props: must be an object' };
    if (Object.keys(props).length === 0) return { ok: false, reason: 'empty_props', detail: 'props: must name at least one property' };
    const r = type.telemetry.safeParse(msg);
    if (!r.success) return fromIssue(r.error.issues[0]!, msg);
    parsed = r.data;
  } else {
    if (!type.event) return { ok: false, reason: 'unknown_event', detail: `${type.id} has no events` };
    if (typeof msg.event !== 'string') return { ok: false, reason: 'invalid_envelope', detail: 'event: must be a string' };
    if (!Object.hasOwn(type.definition.events, msg.event)) return { ok: false, reason: 'unknown_event', detail: `event: ${msg.event} is not an event of ${type.id}` };
    const r = type.event.safeParse(msg);
    if (!r.success) return fromIssue(r.error.issues[0]!, msg);
    parsed = r.data;
  }

  const plausible = parsed.ts !== undefined && parsed.ts <= now + MAX_AHEAD_MS && parsed.ts >= now - MAX_AGE_MS;
  return {
    ok: true,
    reading: {
      deviceId,
      type: type.id,
      ts: plausible ? parsed.ts! : now,
      kind,
      event: parsed.event,
      seq: parsed.seq,
      data: (kind === 'telemetry' ? parsed.props : parsed.data) ?? {},
      serverTs: !plausible,
    },
  };
}

function fromIssue(issue: z.core.$ZodIssue, input: Record<string, unknown>): { ok: false; reason: RejectReason; detail: string } {
  const where = issue.path.join('.');
  const detail = `${where || '(message)'}: ${issue.message}`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.path.length === 0
        ? { ok: false, reason: 'invalid_envelope', detail: `unknown field(s) ${issue.keys.join(', ')}` }
        : { ok: false, reason: 'unknown_property', detail: `${where}: unknown ${issue.keys.join(', ')}` };
    case 'invalid_type':
      return valueAt(input, issue.path) === undefined ? { ok: false, reason: 'missing_field', detail: `${where}: required` } : { ok: false, reason: 'wrong_type', detail };
    case 'too_small':
    case 'too_big':
      return { ok: false, reason: 'out_of_range', detail };
    case 'custom': {
      const reason = (issue.params as { reason?: RejectReason } | undefined)?.reason;
      return { ok: false, reason: reason ?? 'invalid_value', detail };
    }
    default:
      return { ok: false, reason: 'invalid_value', detail };
  }
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
