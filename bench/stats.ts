// Small statistics for the benchmark: percentiles of latency samples, and the median and spread
// of a figure over rounds.

/** The p-th percentile (0..100) of samples, by nearest rank; NaN when there are none. */
export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** Latency samples in milliseconds, kept whole so percentiles are exact (autocannon's own histogram has 1 ms steps). */
export class Samples {
  #values = new Float64Array(16_384);
  #count = 0;

  add(value: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count] = value;
    this.#count += 1;
  }

  get count(): number {
    return this.#count;
  }

  sorted(): Float64Array {
    return this.#values.slice(0, this.#count).sort();
  }
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / 2 / |median| in percent: how far a single round may sit from the median. */
  noisePct: number;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, noisePct: Number.NaN };
  const mid = Math.floor(finite.length / 2);
  const median = finite.length % 2 === 1 ? (finite[mid] as number) : ((finite[mid - 1] as number) + (finite[mid] as number)) / 2;
  const min = finite[0] as number;
  const max = finite[finite.length - 1] as number;
  const noisePct = median === 0 ? 0 : ((max - min) / 2 / Math.abs(median)) * 100;
  return { median, min, max, noisePct };
}
