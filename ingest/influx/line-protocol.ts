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
export function line(measurement: string, tags: Record<string, string | null | undefined>, fields: Record<string, unknown>, ts: number): string | undefined {
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

/** One reading as one line of line protocol (ms precision). */
export function toLine(r: Reading, tags: PointTags | undefined): string | undefined {
  const measurement = measurementOf(r.type, r.kind);
  const t = { deviceId: r.deviceId, event: r.kind === 'event' ? r.event : undefined, building: tags?.building, community: tags?.community, grid: tags?.grid };
  // An event without data (or none writable) still counts.
  return line(measurement, t, r.data, r.ts) ?? line(measurement, t, { count: 1 }, r.ts);
}
