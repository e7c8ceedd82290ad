import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';

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

/**
 * An Alink device's deviceSecret. Alink signs CONNECT with an HMAC keyed by the secret, so the
 * platform must be able to compute it, yet it stores no secret: it is derived from a key kept
 * outside the store (ALINK_SECRET_KEY, or DATA_DIR/alink-secret.key) and the device's stored hash,
 * so a new secret (rotation) or a revoked one changes it, and the store alone reveals nothing.
 * 32 characters, as Alibaba's are.
 */
export function alinkDeviceSecret(key: Buffer, deviceId: string, secretHash: string): string {
  return createHmac('sha256', key).update(`alink\n${deviceId}\n${secretHash}`).digest('base64url').slice(0, 32);
}

/**
 * The key of alinkDeviceSecret: ALINK_SECRET_KEY, else DATA_DIR/alink-secret.key (made once,
 * private). In a cluster a key of one node's own would give every node other secrets, so there it
 * must be configured: without it, Alink is off (undefined).
 */
export function alinkKey(dataDir: string, configured: string | undefined, cluster: boolean): Buffer | undefined {
  if (configured) return Buffer.from(configured, 'utf8');
  if (cluster) return undefined;
  const file = path.join(dataDir, 'alink-secret.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
}
