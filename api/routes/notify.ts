import { z } from 'zod';
import { CHANNELS } from '../../core/domain.ts';
import { listOrgUnits } from '../../core/store/org.ts';
import { contactsOf, dutyTable, listUsers, NO_CONTACTS } from '../../core/store/users.ts';
import { ACTION_LABELS, DEPARTMENT_LABELS, LEVEL_LABELS, ROLE_LABELS, SEVERITY_LABELS, STATUS_LABELS } from '../../core/vocabulary.ts';
import type { ApiDeps, App } from '../deps.ts';

const channels = z.array(z.enum(CHANNELS)).max(CHANNELS.length);
const noticeBody = z.object({
  itemIds: z.array(z.string().max(64)).min(1).max(500),
  recipients: z.array(z.object({ userId: z.string().max(64), delivered: channels.default([]), failed: channels.default([]) })).max(500),
  reason: z.enum(['urgent', 'digest', 'notice']).default('notice'),
  attempts: z.number().int().min(1).max(100).optional(),
  error: z.string().max(500).optional(),
});

/**
 * What the notification flows (flows/) read and write: everyone's contacts with the duty table and
 * the names of places, to work out each event's audience; and what they delivered, onto the items'
 * timelines.
 */
export default async function notifyRoutes(app: App, deps: ApiDeps) {
  app.get('/notify/directory', {
    config: { reach: 'contacts' },
    // The flows read it every 30 s: not worth a log line each time.
    logLevel: 'warn',
    schema: { tags: ['notifications'], summary: 'Who is reached how: every active person with their units and contacts, who is on duty where, the names of places and the words of the vocabulary (the notifier and admins)' },
  }, async () => {
    const [users, contacts, duty, units] = await Promise.all([listUsers(deps.db), contactsOf(deps.db), dutyTable(deps.db), listOrgUnits(deps.db)]);
    return {
      users: users.map((u) => ({ ...u, ...(contacts.get(u.id) ?? NO_CONTACTS) })),
      duty,
      places: Object.fromEntries(units.map((u) => [u.id, { name: u.name, kind: u.kind, parentId: u.parentId }])),
      // The words messages use, the same as GET /api/v1/vocabulary's.
      labels: { statuses: STATUS_LABELS, actions: ACTION_LABELS, severities: SEVERITY_LABELS, departments: DEPARTMENT_LABELS, roles: ROLE_LABELS, levels: LEVEL_LABELS },
    };
  });

  app.post('/notifications', {
    config: { reach: ['work_orders', 'tickets'] },
    schema: { tags: ['notifications'], summary: 'Records on each item\'s timeline whom the flows reached on which channel, or that a notice failed after its retries (the notifier and admins)', body: noticeBody },
  }, async (req, reply) => reply.code(201).send(await deps.workItems.recordNotice(req.user, req.body)));
}
