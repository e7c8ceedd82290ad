import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { addressKey, type Limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import { tokenDigest } from '../core/secrets.ts';
import type { Db } from '../core/store/db.ts';
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

/**
 * Bearer-token check. The admin token is compared as a SHA-256 digest in constant time; other
 * users' tokens are looked up by their digest (only digests are stored). The caller lands on
 * `req.user`; what they may do is each route's business.
 */
export function bearerGuard(adminTokenSha256: Buffer, db: Db, limits: Pick<Limits, 'addressFailures' | 'tokenRate'>, log: Logger) {
  return async function authenticate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Guessing tokens is slowed per address: past the limit its failures get 429 with Retry-After.
    const key = `http:${addressKey(req.ip)}`;
    const failed = (message: Text) => {
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
    // The scheme is case-insensitive (RFC 9110 §11.1): `Bearer`, `bearer`, `BEARER`.
    const m = /^bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw failed({ zh: '缺少 Bearer 令牌', en: 'missing bearer token' });
    const got = tokenDigest(m[1]!);
    const user = timingSafeEqual(got, adminTokenSha256) ? ADMIN : await userByToken(db, got.toString('hex'));
    if (!user) throw failed({ zh: 'Bearer 令牌无效', en: 'invalid bearer token' });
    if (!limits.tokenRate.take(user.id)) {
      reply.header('retry-after', 1);
      throw new ApiError(429, 'too_many_requests', { zh: '该令牌每秒请求次数超出上限', en: 'more than the requests per second a token may make' });
    }
    req.user = user;
  };
}

/** A preHandler that lets only these roles through (403 otherwise). Admins always pass. */
export function requireRole(...roles: UserRole[]) {
  return async function checkRole(req: FastifyRequest): Promise<void> {
    if (req.user.role === 'admin' || roles.includes(req.user.role)) return;
    throw new ApiError(403, 'forbidden', { zh: `${ROLE_LABELS[req.user.role].zh}无权访问 ${req.method} ${req.routeOptions.url}`, en: `${req.user.role} may not ${req.method} ${req.routeOptions.url}` });
  };
}
