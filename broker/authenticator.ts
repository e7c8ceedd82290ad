import { timingSafeEqual } from 'node:crypto';
import type { Db } from '../core/store/db.ts';
import { getDeviceCredentials, REVOKED_SECRET } from '../core/store/devices.ts';
import { getServiceAccount } from '../core/store/service-accounts.ts';
import { alinkDeviceSecret, tokenDigest, verifySecret } from '../core/secrets.ts';
import { alinkDevice, alinkSignatureOk, isAlinkUsername, parseAlinkConnect } from './alink.ts';
import { isStorableText } from '../core/storable.ts';
import { deviceIdentity, SERVICE_PREFIX, serviceClientIdOk, serviceIdentity, type Identity } from './identity.ts';

export type AuthResult = { ok: true; identity: Identity } | { ok: false; code: 2 | 4 | 5; reason: string };

/**
 * Checks CONNECT credentials against the store. Secrets are kept as SHA-256 digests (see
 * core/secrets.ts); a store from an earlier release may still hold scrypt hashes, which cost tens
 * of milliseconds each, so after one good check the secret is remembered as a digest, in memory
 * only and tied to the stored hash: a rotated secret invalidates the entry.
 */
export class Authenticator {
  private readonly verified = new Map<string, { storedHash: string; digest: Buffer }>();

  /** `alinkKey`: the key Alink devices' secrets derive from (core/secrets.ts); without it Alink is off. */
  constructor(
    private readonly db: Db,
    private readonly alinkKey?: Buffer,
  ) {}

  /** `assignedId`: the client sent an empty client id (clean session) and the broker gave it a fresh one. */
  async authenticate(clientId: string, username: string | undefined, password: Buffer | undefined, assignedId = false): Promise<AuthResult> {
    if (!username || !password || password.length === 0) return { ok: false, code: 4, reason: 'missing_credentials' };
    // Text no store can hold never reaches one (a NUL in a username made the lookup fail).
    if (!isStorableText(username) || !isStorableText(clientId)) return { ok: false, code: 4, reason: 'bad_credentials' };
    const secret = password.toString('utf8');
    if (username.startsWith(SERVICE_PREFIX)) {
      const account = await getServiceAccount(this.db, username);
      if (!account || !(await this.check(username, secret, account.secretHash))) return { ok: false, code: 4, reason: 'bad_credentials' };
      // A service account cannot take over a device's or another account's client id (and its session).
      // A fresh id the broker assigned to an empty one is nobody's either.
      if (!assignedId && !serviceClientIdOk(username, clientId)) return { ok: false, code: 2, reason: 'client_id_not_bound' };
      return { ok: true, identity: serviceIdentity(account) };
    }
    if (isAlinkUsername(username)) return this.authenticateAlink(clientId, username, password);
    const device = await getDeviceCredentials(this.db, username);
    // An Alink device signs its CONNECT (below); it has no secret of ours to send.
    if (device?.protocol === 'alink') return { ok: false, code: 4, reason: 'wrong_protocol' };
    if (!device || !(await this.check(username, secret, device.secretHash))) return { ok: false, code: 4, reason: device ? 'bad_secret' : 'unknown_device' };
    // DESIGN §3: client id = device id = username; anything else would let one device pose as another in sessions.
    if (clientId !== username) return { ok: false, code: 2, reason: 'client_id_mismatch' };
    return { ok: true, identity: deviceIdentity(device.id, device.type) };
  }

  /**
   * Alibaba's way: client id `{clientId}|securemode=…,signmethod=…,timestamp=…|`, username
   * `{deviceName}&{productKey}`, password the HMAC of the sorted parameters keyed by the
   * deviceSecret. The device id is bound to the signed deviceName; the broker keys the session by
   * the device id, not by the client id a device chose (one connection per device, as for ours).
   */
  private async authenticateAlink(clientId: string, username: string, password: Buffer): Promise<AuthResult> {
    if (!this.alinkKey) return { ok: false, code: 5, reason: 'alink_off' };
    const c = parseAlinkConnect(clientId, username);
    if (!c) return { ok: false, code: 2, reason: 'alink_bad_client_id' };
    const device = await getDeviceCredentials(this.db, c.deviceName);
    if (!device || device.protocol !== 'alink') return { ok: false, code: 4, reason: 'unknown_device' };
    if (device.type !== c.productKey) return { ok: false, code: 4, reason: 'wrong_product_key' };
    if (device.secretHash === REVOKED_SECRET || !alinkSignatureOk(c, alinkDeviceSecret(this.alinkKey, device.id, device.secretHash), password)) return { ok: false, code: 4, reason: 'bad_signature' };
    return { ok: true, identity: deviceIdentity(device.id, device.type, alinkDevice(c.productKey, c.deviceName, `${c.clientId}|${c.timestamp ?? ''}`)) };
  }

  /** Drops a remembered secret (the device or account was changed or removed). */
  forget(username: string): void {
    this.verified.delete(username);
  }

  private async check(username: string, secret: string, storedHash: string): Promise<boolean> {
    const digest = tokenDigest(secret);
    const known = this.verified.get(username);
    if (known && known.storedHash === storedHash) return timingSafeEqual(known.digest, digest);
    if (!(await verifySecret(secret, storedHash))) return false;
    this.verified.set(username, { storedHash, digest });
    return true;
  }
}
