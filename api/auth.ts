import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { addressKey, type Limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import { tokenDigest } from '../core/secrets.ts';
import type { Db } from '../core/store/db.ts';
import { getSession } from '../core/store/sessions.ts';
import { userByToken, type User, type UserRole } from '../core/store/users.ts';
import type { Text } from '../core/errors.ts';
import { ROLE_LABELS } from '../core/vocabulary.ts';
import { ApiError } from './errors.ts';

const tooManyFailures = (ip: string, ms: number) => {
  const s = Math.ceil(ms / 1000);
  return new ApiError(429, 'too_many_requests', { zh: `来自 ${ip} 的登录失败次数过多，请 ${s} 秒后再试`, en: `too many failed sign-ins from ${ip}; try again in ${s} s` });
};

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the bearer token belongs to (set by `bearerGuard`). */
    user: User;
  }
}

export const ADMIN: User = { id: 'admin', name: 'admin', role: 'admin', gridIds: [], communityIds: [], department: null };

/** The console's session cookie (api/routes/session.ts): HttpOnly, SameSite=Strict. */
export const SESSION_COOKIE = 'sps_session';

/** One cookie's value from a Cookie header. */
export function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Who a token's digest belongs to: the admin (compared in constant time) or a user (looked up by digest). */
export async function tokenOwner(db: Db, adminTokenSha256: Buffer, digest: Buffer): Promise<User | undefined> {
  return timingSafeEqual(digest, adminTokenSha256) ? ADMIN : userByToken(db, digest.toString('hex'));
}

/** Whose session this is, if it is live and its token still is (a rotated or revoked token ends it). */
async function sessionOwner(db: Db, adminTokenSha256: Buffer, id: string): Promise<User | undefined> {
  const session = await getSession(db, tokenDigest(id).toString('hex'));
  if (!session) return undefined;
  const user = await tokenOwner(db, adminTokenSha256, Buffer.from(session.tokenSha256, 'hex'));
  return user?.id === session.userId ? user : undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Sign-in check: a bearer token, or the console's session cookie. The admin token is compared as
 * a SHA-256 digest in constant time; other users' tokens are looked up by their digest (only
 * digests are stored). A change made with the cookie must come from the console's own origin
 * (SameSite=Strict already keeps other sites' requests from carrying it; the Origin check is the
 * second lock). The caller lands on `req.user`; what they may do is each route's business.
 */
export function bearerGuard(adminTokenSha256: Buffer, db: Db, limits: Pick<Limits, 'addressFailures' | 'tokenRate'>, log: Logger) {
  const failed = signInFailures(limits, log);
  return async function authenticate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    let user: User | undefined;
    const session = req.headers.authorization === undefined ? cookie(req, SESSION_COOKIE) : undefined;
    if (session !== undefined) {
      user = await sessionOwner(db, adminTokenSha256, session);
      if (!user) throw failed(req, reply, { zh: '会话已失效，请重新登录', en: 'the session has ended; sign in again' });
      if (!SAFE_METHODS.has(req.method) && !sameOrigin(req)) throw new ApiError(403, 'forbidden', { zh: '跨站请求被拒绝', en: 'a cross-site request with the session cookie is refused' });
    } else {
      // The scheme is case-insensitive (RFC 9110 §11.1): `Bearer`, `bearer`, `BEARER`.
      const m = /^bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!m) throw failed(req, reply, { zh: '缺少 Bearer 令牌', en: 'missing bearer token' });
      user = await tokenOwner(db, adminTokenSha256, tokenDigest(m[1]!));
      if (!user) throw failed(req, reply, { zh: 'Bearer 令牌无效', en: 'invalid bearer token' });
    }
    if (!limits.tokenRate.take(user.id)) {
      reply.header('retry-after', 1);
      throw new ApiError(429, 'too_many_requests', { zh: '该令牌每秒请求次数超出上限', en: 'more than the requests per second a token may make' });
    }
    req.user = user;
  };
}

/** A browser's Origin, when it sends one, names this host. */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * A failed sign-in, counted per address: past the limit its failures get 429 with Retry-After
 * (guessing tokens is slowed; the right token from elsewhere still works).
 */
export function signInFailures(limits: Pick<Limits, 'addressFailures'>, log: Logger) {
  return (req: FastifyRequest, reply: FastifyReply, message: Text): ApiError => {
    const key = `http:${addressKey(req.ip)}`;
    const blockedMs = limits.addressFailures.blockedFor(key);
    if (blockedMs > 0) {
      reply.header('retry-after', Math.ceil(blockedMs / 1000));
      return tooManyFailures(req.ip, blockedMs);
    }
    const started = limits.addressFailures.fail(key);
    if (!started) return new ApiError(401, 'unauthorized', message);
    log.warn({ address: req.ip, blockedS: started.blockedMs / 1000 }, 'too many failed API sign-ins: address blocked for a while');
    reply.header('retry-after', Math.ceil(started.blockedMs / 1000));
    return tooManyFailures(req.ip, started.blockedMs);
  };
}

/** A preHandler that lets only these roles through (403 otherwise). Admins always pass. */
export function requireRole(...roles: UserRole[]) {
  return async function checkRole(req: FastifyRequest): Promise<void> {
    if (req.user.role === 'admin' || roles.includes(req.user.role)) return;
    throw new ApiError(403, 'forbidden', { zh: `${ROLE_LABELS[req.user.role].zh}无权访问 ${req.method} ${req.routeOptions.url}`, en: `${req.user.role} may not ${req.method} ${req.routeOptions.url}` });
  };
}
