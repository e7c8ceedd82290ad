/** The p-th percentile (nearest rank) of a sample; NaN for an empty one. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The last `size` values of a measurement, for percentiles in health and benchmarks. */
export class Reservoir {
  private readonly values: number[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  add(v: number): void {
    if (this.values.length < this.size) this.values.push(v);
    else this.values[this.next] = v;
    this.next = (this.next + 1) % this.size;
  }

  /** Nearest-rank percentile of what is held; 0 when empty. */
  percentile(p: number): number {
    return this.values.length === 0 ? 0 : percentile(this.values, p);
  }
}
