import { z } from 'zod';
import type { PlatformCommand } from '../broker/broker.ts';
import { DomainError, inLanguage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { isStorableText } from '../core/storable.ts';
import type { WorkItems } from './service.ts';

/** `platform/commands/urgent` {"itemId", "note"?}: 紧急事件一键调度 from a panic button, a 大屏 or a bridge. */
export const URGENT_TOPIC = 'platform/commands/urgent';
const urgentBody = z.object({ itemId: z.string().min(1).max(64), note: z.string().max(2000).refine(isStorableText, 'U+0000 or an unpaired surrogate').optional() });
/** One button held down, or a resend, calls everyone once: the same item again within this is ignored. */
const URGENT_COOLDOWN_MS = 60_000;

/**
 * Commands service accounts publish to the platform (the broker lets only accounts granted the
 * exact topic publish there). There is no reply topic: the outcome is on the item's timeline, a
 * refusal in the log with the account and the reason.
 */
export function commandHandler(workItems: WorkItems, log: Logger, now: () => number = Date.now) {
  const lastUrgent = new Map<string, number>();
  return ({ username, topic, payload, dup }: PlatformCommand): void => {
    if (topic !== URGENT_TOPIC) return void log.warn({ username, topic }, 'unknown platform command');
    let body: z.infer<typeof urgentBody>;
    try {
      body = urgentBody.parse(JSON.parse(payload.toString('utf8')));
    } catch (err) {
      return void log.warn({ username, topic, err: (err as Error).message }, 'platform command refused: not {"itemId", "note"?}');
    }
    const t = now();
    for (const [id, at] of lastUrgent) if (t - at > URGENT_COOLDOWN_MS) lastUrgent.delete(id);
    // A QoS 1 resend (dup) whose first copy arrived finds it here; one whose first copy was lost is
    // the only copy, and is taken.
    if (lastUrgent.has(body.itemId)) return void log.info({ username, itemId: body.itemId, dup }, 'urgent dispatch for this item already taken within the minute');
    lastUrgent.set(body.itemId, t);
    workItems.urgentFor(username, body.itemId, body.note).then(
      (item) => log.info({ username, itemId: item.id }, '紧急事件一键调度 (MQTT)'),
      (err: Error) => {
        // Refused (a closed item, a stale version): a corrected retry is not held back a minute.
        if (lastUrgent.get(body.itemId) === t) lastUrgent.delete(body.itemId);
        log.warn({ username, itemId: body.itemId, code: (err as DomainError).code, err: err instanceof DomainError ? inLanguage(err.text, 'en') : err.message }, 'platform command refused');
      },
    );
  };
}
