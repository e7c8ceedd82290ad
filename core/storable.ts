/**
 * What every store and sink the platform writes to can hold (NOTES, "What a store or sink refuses"):
 * PostgreSQL text and jsonb refuse U+0000 and unpaired surrogates (JSON.stringify writes a lone
 * surrogate as `\udXXX`, which jsonb rejects); integers stay within JavaScript's safe range, which the
 * `bigint` columns and InfluxDB's floats hold exactly. The catalog's schemas and ingest's checks use
 * these, so nothing validation accepts is refused further down.
 */

/** U+0000, or a surrogate half without its other half. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

/** The same text with anything unstorable replaced by U+FFFD: for dead letters, which keep what was wrong. */
export function storableText(s: string): string {
  return s.replace(UNSTORABLE_ALL, '\uFFFD');
}

/** Only these URL schemes may appear in device data (snapshots): no `javascript:`, `file:` or `data:`. */
export const URL_PROTOCOL = /^https?$/;

export const STORABLE_TEXT_MESSAGE = 'contains U+0000 or an unpaired surrogate, which the store cannot hold';
