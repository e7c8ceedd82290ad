import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { tokenDigest } from '../core/secrets.ts';
import type { Db } from '../core/store/db.ts';
import { userByToken, type User, type UserRole } from '../core/store/users.ts';
import { ApiError } from './errors.ts';

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
export function bearerGuard(adminTokenSha256: Buffer, db: Db) {
  return async function authenticate(req: FastifyRequest): Promise<void> {
    // The scheme is case-insensitive (RFC 9110 §11.1): `Bearer`, `bearer`, `BEARER`.
    const m = /^bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new ApiError(401, 'unauthorized', 'missing bearer token');
    const got = tokenDigest(m[1]!);
    if (timingSafeEqual(got, adminTokenSha256)) {
      req.user = ADMIN;
      return;
    }
    const user = await userByToken(db, got.toString('hex'));
    if (!user) throw new ApiError(401, 'unauthorized', 'invalid bearer token');
    req.user = user;
  };
}

/** A preHandler that lets only these roles through (403 otherwise). Admins always pass. */
export function requireRole(...roles: UserRole[]) {
  return async function checkRole(req: FastifyRequest): Promise<void> {
    if (req.user.role === 'admin' || roles.includes(req.user.role)) return;
    throw new ApiError(403, 'forbidden', `${req.user.role} may not ${req.method} ${req.routeOptions.url}`);
  };
}
