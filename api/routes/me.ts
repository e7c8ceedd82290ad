import { contactsSchema } from '../../core/contacts.ts';
import { contactsOf } from '../../core/store/users.ts';
import { changeContacts } from './users.ts';
import { badRequest } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

/**
 * The signed-in person themself: who they are, where they serve, and how they are reached. Only
 * they (and admins, through /users) see their contacts.
 */
export default async function meRoutes(app: App, deps: ApiDeps) {
  app.get('/me', {
    schema: { tags: ['users'], summary: 'Who the token belongs to: role, units, and their own contacts and notification preferences' },
  }, async (req) => {
    const u = req.user;
    return { ...u, ...((await contactsOf(deps.db, [u.id])).get(u.id) ?? {}) };
  });

  app.put('/me/contacts', {
    schema: { tags: ['users'], summary: 'Sets your own phone, 企业微信 / 钉钉 ids, the channels you want and (residents) whether to be told of your items\' progress; fields left out keep their value', body: contactsSchema },
  }, async (req) => {
    const changed = await changeContacts(deps, req, req.user.id, req.body);
    if (!changed) throw badRequest('token', { zh: '管理员令牌没有联系方式，请以用户身份设置', en: 'the admin token has no contacts; set them as a user' });
    return changed;
  });
}
