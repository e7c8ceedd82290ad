import { devicePrefix } from './topics.ts';

/** Who is on the other end of an MQTT connection, decided once at CONNECT. */
export type Identity =
  | { kind: 'device'; id: string; type: string; prefix: string; cmdTopic: string }
  | { kind: 'service'; username: string; subscribe: string[]; publish: string[] };

export function deviceIdentity(id: string, type: string): Identity {
  const prefix = devicePrefix(type, id);
  return { kind: 'device', id, type, prefix, cmdTopic: `${prefix}cmd` };
}

/** Service-account usernames carry this prefix, so device ids may not. */
export const SERVICE_PREFIX = 'svc-';
