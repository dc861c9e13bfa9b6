/**
 * The shape every benchmark module has. bench/run.ts runs a list of these in order; a new
 * bench (agent turns per second, ingress throughput …) is one more module in that list.
 */
export interface BenchModule {
  /** Used by `--only NAME` and as the key in bench/results/latest.json. */
  name: string;
  description: string;
  run(context: BenchContext): Promise<BenchResult>;
}

export interface BenchContext {
  /** Repository root (holds package.json and dist/). */
  root: string;
  /** Absolute path of the built entry script, dist/index.js. */
  entry: string;
  /** Progress lines go here (stderr), never into the table. */
  log(message: string): void;
}

/** One line of the printed table. */
export interface BenchRow {
  figure: string;
  /** Our measurement, formatted. */
  ours: string;
  /** OpenClaw's figure from /work/shared/notes/anchors.md, formatted; "" when it has none. */
  anchor: string;
  /** The target, formatted; "" when there is none. */
  target: string;
  /** Whether the target is met; undefined when there is no target. */
  met?: boolean;
}

export interface BenchResult {
  rows: BenchRow[];
  /** Every raw number behind the rows, written to the JSON report. */
  data: Record<string, unknown>;
}

/** Median, minimum and maximum of a non-empty list of numbers. */
export function summarize(values: readonly number[]): { median: number; min: number; max: number; runs: number[] } {
  if (values.length === 0) throw new Error("summarize: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number, runs: [...values] };
}

export function formatMs(milliseconds: number): string {
  return milliseconds >= 1000 ? `${(milliseconds / 1000).toFixed(2)} s` : `${Math.round(milliseconds)} ms`;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
