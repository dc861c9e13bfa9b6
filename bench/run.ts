/**
 * Faraday's benchmark runner: `npm run bench` (builds first) or `node bench/run.ts` after
 * `npm run build`.
 *
 *   node bench/run.ts [--only NAME[,NAME]] [--out FILE] [--strict] [--list]
 *
 * Runs each bench module in turn against dist/index.js, prints one table with OpenClaw's
 * figures (/work/shared/notes/anchors.md) and our targets beside ours, and writes every raw
 * number to bench/results/latest.json. Exit code 1 when a bench failed to run, or with
 * --strict when a target was missed. A new bench is a module in BENCHES.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { BenchModule, BenchRow } from "./bench-module.ts";
import { killAllChildren } from "./gateway-process.ts";
import { installBench } from "./install.ts";
import { machineInfo } from "./machine-info.ts";
import { startupBench } from "./startup.ts";
import { agentBench } from "./agent.ts";
import { channelsBench } from "./channels.ts";
import { searchIndexBench } from "./search-index.ts";
import { toolsBench } from "./tools.ts";
import { scheduleBench } from "./schedule.ts";
import { promptCacheBench } from "./prompt-cache.ts";

const BENCHES: readonly BenchModule[] = [startupBench, installBench, agentBench, channelsBench, searchIndexBench, toolsBench, scheduleBench, promptCacheBench];

interface BenchOutcome {
  name: string;
  description: string;
  ok: boolean;
  durationMs: number;
  rows: BenchRow[];
  data?: Record<string, unknown>;
  error?: string;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      out: { type: "string" },
      strict: { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || values.list) {
    if (values.help) process.stdout.write("usage: node bench/run.ts [--only NAME[,NAME]] [--out FILE] [--strict] [--list]\n\n");
    for (const bench of BENCHES) process.stdout.write(`${bench.name.padEnd(10)} ${bench.description}\n`);
    return 0;
  }

  const root = resolve(import.meta.dirname, "..");
  const entry = join(root, "dist", "index.js");
  if (!existsSync(entry)) {
    process.stderr.write(`${entry} is missing: run \`npm run build\` first (or \`npm run bench\`, which builds).\n`);
    return 2;
  }
  const wanted = values.only?.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const unknown = wanted?.filter((name) => !BENCHES.some((bench) => bench.name === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench ${unknown.join(", ")}; known: ${BENCHES.map((bench) => bench.name).join(", ")}\n`);
    return 2;
  }
  const selected = BENCHES.filter((bench) => wanted === undefined || wanted.includes(bench.name));

  const machine = machineInfo();
  const outcomes: BenchOutcome[] = [];
  const context = { root, entry, log: (message: string) => process.stderr.write(`  ${message}\n`) };
  for (const bench of selected) {
    process.stderr.write(`bench ${bench.name}: ${bench.description}\n`);
    const started = performance.now();
    try {
      const result = await bench.run(context);
      outcomes.push({ name: bench.name, description: bench.description, ok: true, durationMs: performance.now() - started, rows: result.rows, data: result.data });
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`bench ${bench.name} failed: ${message}\n`);
      outcomes.push({
        name: bench.name,
        description: bench.description,
        ok: false,
        durationMs: performance.now() - started,
        rows: [{ figure: `${bench.name} (failed)`, ours: (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "", anchor: "", target: "" }],
        error: message,
      });
    } finally {
      killAllChildren();
    }
  }

  process.stdout.write(`\nFaraday bench — ${machine.date}\n`);
  process.stdout.write(`${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemoryGiB} GiB RAM, Node ${machine.node}, ${machine.platform}\n\n`);
  process.stdout.write(`${formatTable(outcomes.flatMap((outcome) => outcome.rows))}\n`);

  const outFile = resolve(values.out ?? join(root, "bench", "results", "latest.json"));
  await mkdir(dirname(outFile), { recursive: true });
  const report = { schema: "faraday-bench/1", machine, argv: process.argv.slice(2), benches: Object.fromEntries(outcomes.map((outcome) => [outcome.name, outcome])) };
  await writeFile(outFile, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nfull results: ${outFile}\n`);

  if (outcomes.some((outcome) => !outcome.ok)) return 1;
  if (values.strict && outcomes.some((outcome) => outcome.rows.some((row) => row.met === false))) return 1;
  return 0;
}

function formatTable(rows: BenchRow[]): string {
  const header = ["figure", "Faraday", "OpenClaw", "target", ""];
  const cells = rows.map((row) => [row.figure, row.ours, row.anchor || "-", row.target || "-", row.met === undefined ? "" : row.met ? "ok" : "MISSED"]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => (line[column] as string).length)));
  const line = (values: string[]): string => `| ${values.map((value, column) => value.padEnd(widths[column] as number)).join(" | ")} |`;
  return [line(header), `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}

// Whatever happens to the runner, no gateway it started outlives it.
process.on("exit", killAllChildren);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

process.exitCode = await main();
