import type { Reading } from '../../core/store/readings.ts';

/** Where a device hangs, as tags: bounded by the site's size, never a unique id per point. */
export interface PointTags {
  community: string | null;
  grid: string | null;
  building: string | null;
}

/**
 * The InfluxDB schema (README "Time series"): one measurement per device type (`smoke_detector`),
 * tags `deviceId`, `community`, `grid`, `building`, one field per property. Numbers are always
 * written as floats, so a field keeps one type whatever a device sends; events go to
 * `{type}_event` with an `event` tag and their data as fields.
 */
export function measurementOf(type: string, kind: 'telemetry' | 'event'): string {
  const m = type.replaceAll('-', '_');
  return kind === 'event' ? `${m}_event` : m;
}

const escTag = (v: string) => v.replace(/[,= \\]/g, (c) => `\\${c}`);
const escMeasurement = (v: string) => v.replace(/[, \\]/g, (c) => `\\${c}`);
const escString = (v: string) => v.replace(/["\\]/g, (c) => `\\${c}`);

function field(key: string, v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? `${escTag(key)}=${Number.isInteger(v) ? v.toFixed(1) : v}` : undefined;
  if (typeof v === 'boolean') return `${escTag(key)}=${v}`;
  if (typeof v === 'string') return `${escTag(key)}="${escString(v)}"`;
  return undefined;
}

/** A line from a measurement, tags and fields (nulls left out); numbers are written as floats. */
export function line(measurement: string, tags: Record<string, string | null | undefined>, fields: Record<string, number | boolean | string | null | undefined>, ts: number): string | undefined {
  const f = Object.entries(fields)
    .map(([k, v]) => (v === null || v === undefined ? undefined : field(k, v)))
    .filter((x): x is string => x !== undefined);
  if (f.length === 0) return undefined;
  const t = Object.entries(tags)
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `,${escTag(k)}=${escTag(v)}`)
    .join('');
  return `${escMeasurement(measurement)}${t} ${f.join(',')} ${Math.round(ts)}`;
}

/** One reading as one line of line protocol (ms precision), or undefined when it has no field. */
export function toLine(r: Reading, tags: PointTags | undefined): string | undefined {
  const fields = Object.entries(r.data)
    .map(([k, v]) => field(k, v))
    .filter((f): f is string => f !== undefined);
  if (fields.length === 0) fields.push('count=1.0'); // an event without data still counts
  let head = `${escMeasurement(measurementOf(r.type, r.kind))},deviceId=${escTag(r.deviceId)}`;
  if (r.kind === 'event' && r.event) head += `,event=${escTag(r.event)}`;
  if (tags?.building) head += `,building=${escTag(tags.building)}`;
  if (tags?.community) head += `,community=${escTag(tags.community)}`;
  if (tags?.grid) head += `,grid=${escTag(tags.grid)}`;
  return `${head} ${fields.join(',')} ${Math.round(r.ts)}`;
}
