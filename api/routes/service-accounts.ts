import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SERVICE_PREFIX } from '../../broker/identity.ts';
import { isValidFilter } from '../../broker/topics.ts';
import { generateSecret, hashSecret } from '../../core/secrets.ts';
import { insertServiceAccount } from '../../core/store/service-accounts.ts';
import type { ApiDeps, App } from '../deps.ts';

const filter = z.string().refine(isValidFilter, 'not a valid MQTT topic filter');

export default async function serviceAccountRoutes(app: App, deps: ApiDeps) {
  app.post('/service-accounts', {
    schema: {
      tags: ['service accounts'],
      summary: 'MQTT credentials for an outside consumer (Node-RED, a bridge, a load test), limited to the given topic filters',
      body: z.object({ name: z.string().min(1).max(200), subscribe: z.array(filter).min(1).max(100), publish: z.array(filter).max(100).default([]) }),
      response: { 201: z.object({ username: z.string(), secret: z.string() }) },
    },
  }, async (req, reply) => {
    const username = `${SERVICE_PREFIX}${randomBytes(6).toString('hex')}`;
    const secret = generateSecret();
    await insertServiceAccount(deps.db, { username, name: req.body.name, secretHash: await hashSecret(secret), subscribe: req.body.subscribe, publish: req.body.publish });
    req.log.info({ username, name: req.body.name, subscribe: req.body.subscribe, publish: req.body.publish }, 'service account created');
    return reply.code(201).send({ username, secret });
  });
}
