import type { Rng } from '../devices/lib/define.ts';

/** mulberry32: small, fast, seedable, so a scenario replays the same way from the same seed. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, between: (min, max) => min + (max - min) * next(), chance: (p) => next() < p };
}

/** A per-device seed from the run's seed and the device id. */
export function seedFor(runSeed: number, id: string): number {
  let h = runSeed ^ 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}
