import { z } from 'zod';
import { generateSecret, tokenDigest } from '../../core/secrets.ts';
import { closeSession, openSession } from '../../core/store/sessions.ts';
import { cookie, SESSION_COOKIE, signInFailures, tokenOwner } from '../auth.ts';
import type { Logger } from '../../core/logger.ts';
import type { ApiDeps, App } from '../deps.ts';

/** How long a console session lasts (a shift and then some); signing in again opens a new one. */
export const SESSION_HOURS = 12;

/**
 * The console's sign-in: a person's API token, once, for a session cookie (HttpOnly: no script
 * reads it; SameSite=Strict: no other site's page sends it; Secure behind HTTPS). The cookie is
 * what the browser's EventSource carries to the live event stream, which cannot send a header.
 * The store keeps the session's digest and the token's it was opened with, so a rotated or revoked
 * token ends its sessions at once.
 */
export default async function sessionRoutes(app: App, deps: ApiDeps) {
  const failed = signInFailures(deps.limits, app.log as unknown as Logger);
  const setCookie = (secure: boolean, value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;

  app.post('/session', {
    schema: { tags: ['users'], summary: 'Signs the console in with an API token: sets the HttpOnly, SameSite=Strict session cookie (no auth)', body: z.object({ token: z.string().min(1).max(200) }), security: [] },
  }, async (req, reply) => {
    const digest = tokenDigest(req.body.token);
    const user = await tokenOwner(deps.db, deps.adminTokenSha256, digest);
    if (!user) throw failed(req, reply, { zh: '令牌无效', en: 'invalid token' });
    const id = generateSecret();
    const expiresAt = new Date(Date.now() + SESSION_HOURS * 3_600_000).toISOString();
    await openSession(deps.db, tokenDigest(id).toString('hex'), { userId: user.id, tokenSha256: digest.toString('hex'), expiresAt });
    req.log.info({ userId: user.id, role: user.role }, 'console signed in');
    reply.header('set-cookie', setCookie(req.protocol === 'https', id, SESSION_HOURS * 3600));
    return reply.code(201).send({ id: user.id, name: user.name, role: user.role, expiresAt });
  });

  app.delete('/session', {
    schema: { tags: ['users'], summary: 'Signs the console out: ends the session and clears its cookie', security: [] },
  }, async (req, reply) => {
    const id = cookie(req, SESSION_COOKIE);
    if (id) await closeSession(deps.db, tokenDigest(id).toString('hex'));
    reply.header('set-cookie', setCookie(req.protocol === 'https', '', 0));
    return reply.code(204).send();
  });
}
