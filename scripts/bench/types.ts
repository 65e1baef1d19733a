/** What every benchmark module returns: its figures, each beside a baseline of the same run. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

export interface BenchResult extends Figure {
  readonly baseline?: Figure;
}

/** Run `body` repeatedly for about `ms` milliseconds; returns operations per second. */
export function opsPerSecond(body: () => number, ms = 1000): number {
  // Warm up so the JIT has compiled the path we measure.
  const warmEnd = performance.now() + Math.min(200, ms / 4);
  while (performance.now() < warmEnd) body();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    ops += body();
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}
