import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';

const scrypt = (password: BinaryLike, salt: BinaryLike, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );

// Only for hashes written before secrets were kept as SHA-256 digests (see hashSecret).
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

/** A new random secret for a device or service account: 24 bytes, URL-safe. */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * `sha256$digest`. Every secret the platform stores is one it generated: 192 random bits, which
 * no guessing can reach, so a slow password hash (scrypt, ~50 ms of CPU) protects nothing more and
 * only made each first CONNECT after a restart cost that much: 50,000 devices took over ten
 * minutes of both cores to reconnect (`npm run bench:scale`). Hashes in the older
 * `scrypt$N$r$p$salt$hash` form still verify.
 */
export async function hashSecret(secret: string): Promise<string> {
  return `sha256$${tokenDigest(secret).toString('base64url')}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === 'sha256' && parts.length === 2) return safeEqual(tokenDigest(secret), Buffer.from(parts[1]!, 'base64url'));
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(secret, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT_MAXMEM });
  return safeEqual(key, expected);
}

const safeEqual = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/**
 * API tokens and device secrets are long random strings the platform generated, so a plain SHA-256
 * digest is the right way to keep them.
 */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
