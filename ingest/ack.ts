import { z } from 'zod';

/**
 * A device's answer on `v1/{type}/{id}/cmd/ack` (protocol v1): the command's `id` as the platform
 * sent it, `ok` (false: the device could not carry it out), and optionally its own time, a result
 * code and a message.
 */
export const ackSchema = z
  .object({
    id: z.string().min(1).max(100),
    ok: z.boolean().default(true),
    ts: z.number().optional(),
    code: z.number().int().optional(),
    message: z.string().max(500).optional(),
  })
  .strict();

export type Ack = z.output<typeof ackSchema>;

export type AckValidation = { ok: true; ack: Ack } | { ok: false; reason: 'payload_too_large' | 'invalid_json' | 'invalid_ack'; detail: string };

export function validateAck(payload: Buffer, maxPayloadBytes: number): AckValidation {
  if (payload.length > maxPayloadBytes) return { ok: false, reason: 'payload_too_large', detail: `${payload.length} bytes, limit ${maxPayloadBytes}` };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'invalid_json', detail: (err as Error).message };
  }
  const r = ackSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, reason: 'invalid_ack', detail: `${issue.path.join('.') || '(message)'}: ${issue.message}` };
  }
  return { ok: true, ack: r.data };
}
