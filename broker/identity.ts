import type { AlinkDevice } from './alink.ts';
import { devicePrefix, filterMatches } from './topics.ts';

/** Who is on the other end of an MQTT connection, decided once at CONNECT. */
export type Identity =
  | { kind: 'device'; id: string; type: string; prefix: string; cmdTopic: string; alink?: AlinkDevice }
  | { kind: 'service'; username: string; subscribe: string[]; publish: string[]; deny: string[]; mayReceive(topic: string): boolean };

/** A device's identity; `alink`: it speaks Alibaba's Alink (broker/alink.ts), translated to our topics under `prefix`. */
export function deviceIdentity(id: string, type: string, alink?: AlinkDevice): Identity {
  const prefix = devicePrefix(type, id);
  return { kind: 'device', id, type, prefix, cmdTopic: `${prefix}cmd`, ...(alink ? { alink } : {}) };
}

/** Service-account usernames carry this prefix, so device ids may not. */
export const SERVICE_PREFIX = 'svc-';

/**
 * A service account's identity. Like Mosquitto's ACLs, what it may receive is checked per message
 * at delivery (a queued message too): inside a subscribe filter and outside every denied one. An
 * account allowed everything and denied nothing (the usual Node-RED one) costs no check.
 */
export function serviceIdentity(a: { username: string; subscribe: string[]; publish: string[]; deny: string[] }): Identity {
  const everything = a.deny.length === 0 && a.subscribe.includes('#');
  const allow = a.subscribe.map(matcher);
  const deny = a.deny.map(matcher);
  const mayReceive = everything ? () => true : (topic: string) => allow.some((m) => m(topic)) && !deny.some((m) => m(topic));
  return { kind: 'service', username: a.username, subscribe: a.subscribe, publish: a.publish, deny: a.deny, mayReceive };
}

/** MQTT client ids a service account may use: its username, or its username and a suffix after `-` (several connections). */
export const serviceClientIdOk = (username: string, clientId: string) => clientId === username || clientId.startsWith(`${username}-`);

/** A filter as a test on topics, cheap for the usual shapes (`a/b`, `a/#`) since it runs per message. */
function matcher(filter: string): (topic: string) => boolean {
  if (!filter.includes('+') && !filter.includes('#')) return (t) => t === filter;
  if (!filter.includes('+') && filter.endsWith('/#')) {
    const parent = filter.slice(0, -2);
    const prefix = filter.slice(0, -1);
    return (t) => t === parent || t.startsWith(prefix);
  }
  return (t) => filterMatches(filter, t);
}
