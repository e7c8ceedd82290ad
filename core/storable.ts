/**
 * What every store and sink the platform writes to can hold (NOTES, "What a store or sink refuses"):
 * PostgreSQL text and jsonb refuse U+0000 and unpaired surrogates (JSON.stringify writes a lone
 * surrogate as `\udXXX`, which jsonb rejects); InfluxDB's line protocol cannot carry a newline in a
 * field. Integers stay within JavaScript's safe range, which the `bigint` columns and InfluxDB's
 * floats hold exactly. The catalog's schemas and ingest's checks use these, so nothing validation
 * accepts is refused further down.
 */

const LONE_SURROGATE = '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const UNSTORABLE = new RegExp(`\\u0000|${LONE_SURROGATE}`);
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');
/** Control characters (U+0000–U+001F, U+007F): no sensor reading needs one. */
const NOT_DEVICE_TEXT = new RegExp(`[\\u0000-\\u001f\\u007f]|${LONE_SURROGATE}`);

/** Text PostgreSQL can hold. */
export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

/** Text a device may send in a property or event field: storable, and without control characters. */
export function isDeviceText(s: string): boolean {
  return !NOT_DEVICE_TEXT.test(s);
}

/** The same text with anything unstorable replaced by U+FFFD: for dead letters, which keep what was wrong. */
export function storableText(s: string): string {
  return s.replace(UNSTORABLE_ALL, '\uFFFD');
}

/** Only these URL schemes may appear in device data (snapshots a person opens): no `javascript:`, `file:` or `data:`. */
export const URL_PROTOCOL = /^https?$/;

export const DEVICE_TEXT_MESSAGE = 'contains a control character (U+0000–U+001F, U+007F) or an unpaired surrogate, which the stores cannot hold';

/**
 * The path of the first string (or object key) in a parsed request part that no store can hold,
 * e.g. `note` or `photos.2`, or undefined. Bounded by depth so a hostile body cannot recurse us away.
 */
export function firstUnstorable(v: unknown, path = '', depth = 0): string | undefined {
  if (typeof v === 'string') return isStorableText(v) ? undefined : path || '(value)';
  if (v === null || typeof v !== 'object' || depth > 32) return undefined;
  for (const [k, x] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k;
    if (!isStorableText(k)) return p;
    const bad = firstUnstorable(x, p, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}
