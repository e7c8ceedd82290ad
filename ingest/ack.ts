import { z } from 'zod';
import { deviceString } from '../devices/lib/schemas.ts';
import { parsePayload } from './validate.ts';

/**
 * A device's answer on `v1/{type}/{id}/cmd/ack` (protocol v1): the command's `id` as the platform
 * sent it, `ok` (false: the device could not carry it out), and optionally its own time, a result
 * code and a message.
 */
export const ackSchema = z
  .object({
    id: deviceString(100).min(1),
    ok: z.boolean().default(true),
    ts: z.number().optional(),
    code: z.number().int().optional(),
    message: deviceString(500).optional(),
  })
  .strict();

export type Ack = z.output<typeof ackSchema>;

export type AckValidation = { ok: true; ack: Ack } | { ok: false; reason: 'payload_too_large' | 'invalid_json' | 'invalid_ack'; detail: string };

export function validateAck(payload: Buffer, maxPayloadBytes: number): AckValidation {
  const parsed = parsePayload(payload, maxPayloadBytes);
  if (!parsed.ok) return parsed;
  const r = ackSchema.safeParse(parsed.body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, reason: 'invalid_ack', detail: `${issue.path.join('.') || '(message)'}: ${issue.message}` };
  }
  return { ok: true, ack: r.data };
}
