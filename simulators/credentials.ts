import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DeviceCredential } from '../core/seed.ts';

const sheet = z.object({ devices: z.array(z.object({ id: z.string(), type: z.string(), secret: z.string() })) });

/** Reads a provisioning sheet written at seeding (DATA_DIR/device-credentials.json). */
export function readCredentials(file: string): DeviceCredential[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`credentials ${file}: ${(err as Error).message} (start the platform once to seed it)`);
  }
  const parsed = sheet.safeParse(raw);
  if (!parsed.success) throw new Error(`credentials ${file}: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`);
  return parsed.data.devices;
}
