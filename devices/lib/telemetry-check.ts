import type { PropSpec } from './props.ts';
import { isDeviceText } from '../../core/storable.ts';

/**
 * A precompiled check of a telemetry message, built from the same property specs as the zod
 * schema (schemas.ts), for ingest's hot path: no output copy, no issue objects. It answers only
 * "certainly valid"; whatever it does not accept goes through the zod schema, which has the final
 * word and the reason for a dead letter. `test/validate.test.ts` holds the two to agreement.
 */
export function telemetryCheck(props: Record<string, PropSpec>): (msg: Record<string, unknown>) => boolean {
  const checks = new Map<string, (v: unknown) => boolean>();
  for (const [name, spec] of Object.entries(props)) {
    const check = valueCheck(spec);
    if (check) checks.set(name, check);
  }
  return (msg) => {
    for (const key in msg) if (key !== 'ts' && key !== 'seq' && key !== 'props') return false;
    if (msg.ts !== undefined && !count(msg.ts)) return false;
    if (msg.seq !== undefined && !count(msg.seq)) return false;
    const p = msg.props;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return false;
    let n = 0;
    for (const key in p) {
      const check = checks.get(key);
      if (!check || !check((p as Record<string, unknown>)[key])) return false;
      n++;
    }
    return n > 0;
  };
}

/** zod's `.int().nonnegative()`: a safe integer ≥ 0. */
const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The value rule of one spec, or undefined where only zod decides (URLs). */
function valueCheck(spec: PropSpec): ((v: unknown) => boolean) | undefined {
  switch (spec.kind) {
    case 'number': {
      const { min, max, integer } = spec;
      return integer
        ? (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max
        : (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
    }
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'string':
      if (spec.format === 'url') return undefined;
      return (v) => typeof v === 'string' && v.length <= spec.maxLength && isDeviceText(v);
  }
}
