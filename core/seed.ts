import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Db } from './store/db.ts';
import { insertDevices } from './store/devices.ts';
import { insertOrgUnits } from './store/org.ts';
import { flattenSite, type Site } from './site.ts';
import { generateSecret, hashSecret, tokenDigest } from './secrets.ts';
import { insertUser, setContacts, setDuty } from './store/users.ts';

export interface DeviceCredential {
  id: string;
  type: string;
  secret: string;
}

/**
 * Seeds an empty store from a site file. Device secrets are generated here and written once to a
 * provisioning sheet (mode 0600, in DATA_DIR, never committed), as an installer would receive it;
 * the store keeps only their hashes.
 */
export async function seedSite(db: Db, site: Site, knownTypes: string[], credentialsFile: string): Promise<{ units: number; devices: number; people: number }> {
  const { units, devices } = flattenSite(site);
  for (const d of devices)
    if (!knownTypes.includes(d.type)) throw new Error(`site: device ${d.id} has unknown type "${d.type}"; known: ${knownTypes.join(', ')}`);
  const credentials: DeviceCredential[] = [];
  const rows = await Promise.all(
    devices.map(async (d) => {
      const secret = generateSecret();
      credentials.push({ id: d.id, type: d.type, secret });
      return { ...d, secretHash: await hashSecret(secret) };
    }),
  );
  await db.transaction(async (tx) => {
    await insertOrgUnits(tx, units);
    await insertDevices(tx, rows);
  });
  credentials.sort((a, b) => a.id.localeCompare(b.id));
  writeFileSync(credentialsFile, JSON.stringify({ devices: credentials }, null, 2) + '\n', { mode: 0o600 });
  const people = await seedPeople(db, site, path.join(path.dirname(credentialsFile), 'user-tokens.json'));
  return { units: units.length, devices: devices.length, people };
}

/** Users from the site file, each with a fresh token written once to a sheet beside the credentials. */
async function seedPeople(db: Db, site: Site, tokensFile: string): Promise<number> {
  if (site.people.length === 0) return 0;
  const tokens: { id: string; role: string; token: string }[] = [];
  await db.transaction(async (tx) => {
    for (const p of site.people) {
      const token = generateSecret();
      tokens.push({ id: p.id, role: p.role, token });
      await insertUser(tx, { id: p.id, name: p.name, role: p.role, gridIds: p.gridIds, communityIds: p.communityIds, department: p.department ?? null, buildingIds: p.buildingIds, streetIds: p.streetIds, tokenSha256: tokenDigest(token).toString('hex') });
      await setContacts(tx, p.id, p);
      for (const g of p.onDuty) await setDuty(tx, g, p.id);
    }
  });
  writeFileSync(tokensFile, JSON.stringify({ users: tokens }, null, 2) + '\n', { mode: 0o600 });
  return tokens.length;
}
