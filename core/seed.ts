import { writeFileSync } from 'node:fs';
import type { Db } from './store/db.ts';
import { insertDevices } from './store/devices.ts';
import { insertOrgUnits } from './store/org.ts';
import { flattenSite, type Site } from './site.ts';
import { generateSecret, hashSecret } from './secrets.ts';

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
export async function seedSite(db: Db, site: Site, knownTypes: string[], credentialsFile: string): Promise<{ units: number; devices: number }> {
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
  return { units: units.length, devices: devices.length };
}
