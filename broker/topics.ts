/**
 * Topic rules of device protocol v1 (DESIGN §3) and MQTT filter matching for service accounts.
 * Kept free of broker state so the hot path is a few string comparisons.
 */

export type DeviceTopicKind = 'telemetry' | 'event' | 'status' | 'cmd' | 'cmd/ack';

/** `v1/{type}/{deviceId}/`: everything a device may publish starts with its own prefix. */
export const devicePrefix = (type: string, deviceId: string) => `v1/${type}/${deviceId}/`;

/** What a device may publish under its prefix. `status` is the broker's own; `cmd` is downlink. */
export function devicePublishKind(prefix: string, topic: string): 'telemetry' | 'event' | 'cmd/ack' | undefined {
  if (!topic.startsWith(prefix)) return undefined;
  switch (topic.slice(prefix.length)) {
    case 'telemetry':
      return 'telemetry';
    case 'event':
      return 'event';
    case 'cmd/ack':
      return 'cmd/ack';
    default:
      return undefined;
  }
}

/** Parses `v1/{type}/{deviceId}/{kind}`; undefined for anything else. */
export function parseDeviceTopic(topic: string): { type: string; deviceId: string; kind: DeviceTopicKind } | undefined {
  const parts = topic.split('/');
  if (parts[0] !== 'v1' || parts.length < 4 || parts.length > 5) return undefined;
  const [, type, deviceId, a, b] = parts as [string, string, string, string, string | undefined];
  const kind = b === undefined ? a : `${a}/${b}`;
  if (!type || !deviceId) return undefined;
  if (kind === 'telemetry' || kind === 'event' || kind === 'status' || kind === 'cmd' || kind === 'cmd/ack') return { type, deviceId, kind };
  return undefined;
}

/** MQTT-4.7: does `filter` (with `+` and `#`) match the concrete `topic`? */
export function filterMatches(filter: string, topic: string): boolean {
  // MQTT-4.7.2-1: wildcards at the first level do not match $-topics.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Does the allowed filter `allowed` cover every topic the requested filter `requested` can match? */
export function filterCovers(allowed: string, requested: string): boolean {
  if (requested.startsWith('$') !== allowed.startsWith('$') && (allowed.startsWith('+') || allowed.startsWith('#'))) return false;
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    const level = a[i];
    if (level === '#') return true;
    if (i >= r.length) return false;
    const req = r[i];
    if (req === '#') return false;
    if (level === '+') continue;
    if (req === '+' || req !== level) return false;
  }
  return a.length === r.length;
}

/** A valid MQTT topic filter (MQTT-4.7.1): `#` last and alone in its level, `+` alone in its level. */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > 1024 || hasForbiddenChars(filter)) return false;
  const levels = filter.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}

/**
 * Topic strings arrive decoded as UTF-8; invalid bytes decode to U+FFFD. MQTT-1.5.3 forbids invalid
 * UTF-8 and U+0000, so both close the connection. Our topics are ASCII, so refusing a genuine U+FFFD
 * costs nothing.
 */
export function hasForbiddenChars(topic: string): boolean {
  return topic.includes('\u0000') || topic.includes('\uFFFD');
}
