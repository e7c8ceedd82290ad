import { z } from 'zod';
import { DomainError, inLanguage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { WorkItems } from './service.ts';

/** `platform/commands/urgent` {"itemId", "note"?}: 紧急事件一键调度 from a panic button, a 大屏 or a bridge. */
export const URGENT_TOPIC = 'platform/commands/urgent';
const urgentBody = z.object({ itemId: z.string().min(1).max(64), note: z.string().max(2000).optional() });

/**
 * Commands service accounts publish to the platform (the broker lets only accounts whose ACL
 * allows the topic publish there). There is no reply topic: the outcome is on the item's timeline,
 * a refusal in the log with the account and the reason.
 */
export function commandHandler(workItems: WorkItems, log: Logger) {
  return ({ username, topic, payload }: { username: string; topic: string; payload: Buffer }): void => {
    if (topic !== URGENT_TOPIC) return void log.warn({ username, topic }, 'unknown platform command');
    let body: z.infer<typeof urgentBody>;
    try {
      body = urgentBody.parse(JSON.parse(payload.toString('utf8')));
    } catch (err) {
      return void log.warn({ username, topic, err: (err as Error).message }, 'platform command refused: not {"itemId", "note"?}');
    }
    workItems.urgentFor(username, body.itemId, body.note).then(
      (item) => log.info({ username, itemId: item.id }, '紧急事件一键调度 (MQTT)'),
      (err: Error) => log.warn({ username, itemId: body.itemId, code: (err as DomainError).code, err: err instanceof DomainError ? inLanguage(err.text, 'en') : err.message }, 'platform command refused'),
    );
  };
}
