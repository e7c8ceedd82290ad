import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SERVICE_PREFIX } from '../../broker/identity.ts';
import { isValidFilter } from '../../broker/topics.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { insertServiceAccount, listServiceAccounts, revokeServiceAccount, setServiceAccountSecret } from '../../core/store/service-accounts.ts';
import { audited } from '../audit.ts';
import { notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const filter = z.string().refine(isValidFilter, 'not a valid MQTT topic filter');

export default async function serviceAccountRoutes(app: App, deps: ApiDeps) {
  app.post('/service-accounts', {
    schema: {
      tags: ['service accounts'],
      summary: 'MQTT credentials for an outside consumer (Node-RED, a bridge, a load test), limited to the given topic filters',
      body: z.object({
        name: z.string().min(1).max(200),
        subscribe: z.array(filter).min(1).max(100),
        publish: z.array(filter).max(100).default([]),
        deny: z.array(filter).max(100).default([]).describe('filters it may never subscribe to, receive or publish on, even inside the allowed ones'),
      }),
      response: { 201: z.object({ username: z.string(), secret: z.string() }) },
    },
  }, async (req, reply) => {
    const username = `${SERVICE_PREFIX}${randomBytes(6).toString('hex')}`;
    const secret = generateSecret();
    const { name, subscribe, publish, deny } = req.body;
    const secretHash = await hashSecret(secret);
    await audited(deps.db, req, { action: 'service_account.create', targetKind: 'service_account', targetId: username }, (tx) => insertServiceAccount(tx, { username, name, secretHash, subscribe, publish, deny }), () => ({ name, subscribe, publish, deny }));
    req.log.info({ username, name, subscribe, publish, deny }, 'service account created');
    return reply.code(201).send({ username, secret });
  });

  app.get('/service-accounts', {
    schema: { tags: ['service accounts'], summary: 'Service accounts with their filters (never their secrets)' },
  }, async () => {
    const items = (await listServiceAccounts(deps.db)).map(({ secretHash: _, ...a }) => a);
    return { items, total: items.length };
  });

  app.post('/service-accounts/:username/revoke', {
    schema: { tags: ['service accounts'], summary: 'Revokes an account: refused at once, its live MQTT connections closed', params: z.object({ username: z.string() }) },
  }, async (req) => {
    const { username } = req.params;
    if (!(await audited(deps.db, req, { action: 'service_account.revoke', targetKind: 'service_account', targetId: username, before: { revoked: false } }, (tx) => revokeServiceAccount(tx, username), () => ({ revoked: true })))) throw notFound('active service account', username);
    return { username, revoked: true, connectionsClosed: deps.broker.revokeCredentials(username) };
  });

  app.post('/service-accounts/:username/secret', {
    schema: { tags: ['service accounts'], summary: 'Gives an account a new secret (shown once); the old one stops working and its connections are closed', params: z.object({ username: z.string() }) },
  }, async (req) => {
    const { username } = req.params;
    const secret = generateSecret();
    const secretHash = await hashSecret(secret);
    if (!(await audited(deps.db, req, { action: 'service_account.rotate_secret', targetKind: 'service_account', targetId: username }, (tx) => setServiceAccountSecret(tx, username, secretHash), () => ({ rotated: true })))) throw notFound('active service account', username);
    return { username, secret, connectionsClosed: deps.broker.revokeCredentials(username) };
  });
}
