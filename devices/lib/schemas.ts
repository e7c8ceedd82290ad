import { z } from 'zod';
import type { PropSpec } from './props.ts';
import { isDeviceText, DEVICE_TEXT_MESSAGE, URL_PROTOCOL } from '../../core/storable.ts';

/**
 * Text a device may send (core/storable.ts: every store can hold it), within its length. Refused
 * with its own dead-letter reason, `invalid_text`, so a device integrator sees at once that the
 * bytes, not the value, are wrong.
 */
export const deviceString = (maxLength: number) =>
  z.string().max(maxLength).refine(isDeviceText, { message: DEVICE_TEXT_MESSAGE, params: { reason: 'invalid_text' }, abort: true });

/** The zod schema of one property value, from its spec: the single source of the value's rules. */
export function propSchema(spec: PropSpec): z.ZodType {
  switch (spec.kind) {
    case 'number': {
      const n = z.number().min(spec.min).max(spec.max);
      return spec.integer ? n.int() : n;
    }
    case 'boolean':
      return z.boolean();
    case 'string':
      // Text first, so a U+0000 in a URL is named as such; then only http(s) URLs (snapshots a person opens).
      return spec.format === 'url' ? deviceString(spec.maxLength).pipe(z.url({ protocol: URL_PROTOCOL })) : deviceString(spec.maxLength);
  }
}

/**
 * Device timestamps are ms since the epoch; plausibility (not too old, not ahead) is ingest's call.
 * Both are non-negative safe integers (zod's `int()`): `seq` is often a ms or µs clock, so it is
 * stored as `bigint`, and beyond 2^53 a JSON number no longer says which integer it was.
 */
const ts = z.number().int().nonnegative().optional();
const seq = z.number().int().nonnegative().optional();

export function telemetrySchema(props: Record<string, PropSpec>) {
  const shape = Object.fromEntries(Object.entries(props).map(([name, spec]) => [name, propSchema(spec).optional()]));
  return z.strictObject({
    ts,
    seq,
    // Devices report what changed: any non-empty subset of the type's properties.
    props: z.strictObject(shape).refine((p) => Object.keys(p).length > 0, { message: 'props is empty', params: { reason: 'empty_props' } }),
  });
}

export function eventSchema(events: Record<string, Record<string, PropSpec>>) {
  const names = Object.keys(events);
  if (names.length === 0) return undefined;
  const variants = names.map((event) =>
    z.strictObject({
      ts,
      seq,
      event: z.literal(event),
      data: z.strictObject(Object.fromEntries(Object.entries(events[event]!).map(([k, spec]) => [k, propSchema(spec)]))).default({}),
    }),
  );
  return z.discriminatedUnion('event', variants as [(typeof variants)[0], ...typeof variants]);
}

export type Telemetry = { ts?: number; seq?: number; props: Record<string, number | boolean | string> };
export type DeviceEvent = { ts?: number; seq?: number; event: string; data: Record<string, unknown> };
