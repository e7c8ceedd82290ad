import { timingSafeEqual } from 'node:crypto';
import { tokenDigest } from '../core/secrets.ts';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';

/**
 * Bearer-token check. Tokens are compared as SHA-256 digests in constant time, so neither their
 * length nor their prefix leaks through timing.
 */
export function bearerGuard(adminTokenSha256: Buffer) {
    return async function requireAdmin(req: FastifyRequest): Promise<void> {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) throw new ApiError(401, 'unauthorized', 'missing bearer token');
    const got = tokenDigest(header.slice(7).trim());
    if (!timingSafeEqual(got, adminTokenSha256)) throw new ApiError(401, 'unauthorized', 'invalid bearer token');
  };
}
