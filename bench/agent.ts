import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  memoryAfterFullGc,
  percentile,
  pool,
  readProcessCpuSeconds,
  slope,
} from "./agent-gateway.ts";
import { RawChatClient } from "./raw-chat-client.ts";
import { deployedSettings, stateDirPaths } from "./deployed.ts";
import { startFakeModelProcess, type FakeModelProcess } from "./fake-model-process.ts";
import { formatMiB, type BenchContext, type BenchModule, type BenchResult, type BenchRow } from "./bench-module.ts";
import { freePort, readProcessMemory, spawnGateway, stopGateway, waitForHealthy, type GatewayProcess } from "./gateway-process.ts";

const TOKEN = "bench-gateway-token-0123456789abcdef";
const ANTHROPIC_KEY = "fake-anthropic-key-for-the-bench";
const MODEL = "anthropic/claude-bench";

/** Throughput: 50 sessions, each a sequence of turns; stop at 3,000 turns or 20 s. */
const LOAD_SESSIONS = 50;
const LOAD_MAX_TURNS = 3_000;
const LOAD_MAX_MS = 20_000;
/**
 * Turns per session before the clock starts: the first creates the session and loads the SDK;
 * 500 turns in all let V8 optimise the hot path, so the figures are the steady state (with 150,
 * the first measured second still ran partly unoptimised code, and its p99 swung by 20 ms).
 */
const WARMUP_TURNS_PER_SESSION = 10;
/** One session, one turn at a time: the gateway's own cost per turn without queueing. */
const SERIAL_TURNS = 300;
const SERIAL_MAX_MS = 15_000;

/** Memory: 10,000 turns over 1,000 sessions (10 rounds of one turn each), 50 in flight. */
const MEMORY_SESSIONS = 1_000;
const MEMORY_ROUNDS = 10;
const MEMORY_CONCURRENCY = 50;
const MEMORY_MAX_MS = 90_000;

/** Append cost: a session of 100,000 messages vs an empty one, 1,000 appends each, 3 rounds. */
const FULL_SESSION_MESSAGES = 100_000;
const FILL_MAX_MS = 60_000;
const APPENDS_PER_SAMPLE = 1_000;
const APPEND_ROUNDS = 3;

const HEALTHY_TIMEOUT_MS = 15_000;
const TAG = /bench-turn-(\d+)\b/;
const MiB = 1024 * 1024;

/**
 * Agent turns through the BUILT gateway against a zero-latency echo model (the Messages API's
 * shape, answered by a lean server in a process of its own, bench/fake-model-process.ts, so that
 * neither the gateway nor this load generator shares an event loop with it): turns per second
 * and per-turn latency with 50 concurrent sessions (maxConcurrent 50, the default 4, and 50 as
 * deployed), saturated and at 300 turns/s offered; RSS over 10,000 turns in 1,000 sessions (as
 * deployed and with Node's defaults); and the cost of SessionStore.append on a 100,000-message
 * session vs an empty one (in-process).
 *
 * FARADAY_BENCH_CPU_PROF_DIR=DIR runs every gateway with `--cpu-prof --cpu-prof-dir DIR`;
 * FARADAY_BENCH_GATEWAY_NODE_ARGS="--max-semi-space-size=2 …" passes flags to every gateway's node
 * (to try V8 settings; the figures are then not those of `node dist/index.js`).
 */
export const agentBench: BenchModule = {
  name: "agent",
  description: "agent turns/s and latency (50 sessions), RSS over 10k turns, SessionStore.append at 100k messages",
  async run(context: BenchContext): Promise<BenchResult> {
    const scratch = await mkdtemp(join(tmpdir(), "faraday-bench-agent-"));
    let fake: FakeModelProcess | undefined;
    try {
      fake = await startFakeModelProcess({ apiKey: ANTHROPIC_KEY, tag: TAG });
      context.log(`fake model: its own process (pid ${fake.pid}) at ${fake.url}`);
      const environment = { fake, scratch, context, nextTag: 0 };
      // As deployed: the environment the container gives the process (Dockerfile ENV, fly.toml
      // [env] on top: NODE_OPTIONS heap sizes for a 256 MB machine, FARADAY_NODE_FLAGS).
      const deployed = await deployedSettings(context.root);
      context.log(`as deployed: env ${Object.entries(deployed.env).map(([key, value]) => `${key}=${value}`).join(" ")}`);
      const wideLoad = await measureLoad(environment, 50);
      const defaultLoad = await measureLoad(environment, undefined);
      const deployedLoad = await measureLoad(environment, 50, deployed.env);
      const memory = await measureMemory(environment);
      const memoryFly = await measureMemory(environment, [], deployed.env, "memory-deployed");
      const append = await measureAppend(context, scratch);
      return {
        rows: rowsFor({ defaultLoad, wideLoad, deployedLoad, memory, memoryFly, append, deployedDescribe: deployed.describe }),
        data: { deployedEnv: deployed.env, fakeUrl: fake.url, fakeModel: "own process (bench/fake-model-process.ts)", loadMaxConcurrentDefault: defaultLoad, loadMaxConcurrent50: wideLoad, loadMaxConcurrent50Deployed: deployedLoad, memory, memoryFly, append },
      };
    } finally {
      await fake?.close();
      await rm(scratch, { recursive: true, force: true });
    }
  },
};

interface Environment {
  fake: FakeModelProcess;
  scratch: string;
  context: BenchContext;
  nextTag: number;
}

interface TurnRecord {
  tag: number;
  rttMs: number;
  fakeMs: number | undefined;
}

/** Failed turns are counted, the first few kept for the report. */
class Failures {
  count = 0;
  readonly samples: string[] = [];
  add(message: string): void {
    this.count += 1;
    if (this.samples.length < 5) this.samples.push(message.slice(0, 300));
  }
}

/** Extra node flags for the gateway, from FARADAY_BENCH_GATEWAY_NODE_ARGS; [] normally. */
const EXTRA_NODE_ARGS = (process.env.FARADAY_BENCH_GATEWAY_NODE_ARGS ?? "").split(/\s+/).filter((arg) => arg !== "");

async function startGatewayWith(
  environment: Environment,
  label: string,
  maxConcurrent: number | undefined,
  nodeArgs: readonly string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<GatewayProcess> {
  const stateDir = join(environment.scratch, label);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const defaults = maxConcurrent === undefined ? { model: MODEL } : { model: MODEL, maxConcurrent };
  await writeFile(join(stateDir, "openclaw.json"), `${JSON.stringify({ agents: { defaults, list: [{ id: "main", default: true }] } }, null, 2)}\n`);
  const profileDir = process.env.FARADAY_BENCH_CPU_PROF_DIR;
  const profileArgs = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `gateway-${label}.cpuprofile`] : [];
  const allArgs = [...EXTRA_NODE_ARGS, ...profileArgs, ...nodeArgs];
  if (allArgs.length > 0) environment.context.log(`${label}: gateway node flags ${allArgs.join(" ")}`);
  const gateway = spawnGateway(environment.context.entry, {
    port: await freePort(),
    stateDir,
    cwd: environment.scratch,
    env: { ...stateDirPaths(extraEnv, stateDir), OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: environment.fake.url },
    nodeArgs: allArgs,
  });
  await waitForHealthy(gateway, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: 10 });
  return gateway;
}

/** One turn; returns its record or throws with what went wrong. */
async function turn(environment: Environment, client: RawChatClient, sessionId: string | undefined, note: string): Promise<TurnRecord & { sessionId: string }> {
  const tag = environment.nextTag++;
  const text = `bench-turn-${tag} ${note}: hello from the benchmark, please echo this line back.`;
  const answer = await client.chat(sessionId === undefined ? { text } : { text, sessionId });
  const reply = answer.body?.reply;
  if (answer.status !== 200 || typeof reply !== "string" || answer.body?.errorCode !== undefined || !reply.includes(`bench-turn-${tag} `) || typeof answer.body?.sessionId !== "string") {
    throw new Error(`turn ${tag}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
  }
  // The fake's own time for this turn is collected after the phase (attachFakeTimes).
  return { tag, rttMs: answer.rttMs, fakeMs: undefined, sessionId: answer.body.sessionId };
}

/** Fills in each record's fakeMs from the fake process's timings (taken, so they are cleared). */
async function attachFakeTimes(environment: Environment, records: TurnRecord[]): Promise<void> {
  const byTag = await environment.fake.takeTimings();
  for (const record of records) record.fakeMs = byTag.get(record.tag);
}

function latencySummary(records: readonly TurnRecord[]) {
  const rtt = records.map((record) => record.rttMs);
  const timed = records.filter((record) => record.fakeMs !== undefined);
  const added = timed.map((record) => record.rttMs - (record.fakeMs as number));
  const fake = timed.map((record) => record.fakeMs as number);
  const round = (value: number): number => Number(value.toFixed(2));
  return {
    turns: records.length,
    turnsWithFakeTiming: timed.length,
    rttMs: { p50: round(percentile(rtt, 0.5)), p90: round(percentile(rtt, 0.9)), p99: round(percentile(rtt, 0.99)), max: round(percentile(rtt, 1)) },
    addedMs: { p50: round(percentile(added, 0.5)), p90: round(percentile(added, 0.9)), p99: round(percentile(added, 0.99)), max: round(percentile(added, 1)) },
    fakeMs: { p50: round(percentile(fake, 0.5)), p99: round(percentile(fake, 0.99)), max: round(percentile(fake, 1)) },
  };
}

async function measureLoad(environment: Environment, maxConcurrent: number | undefined, deployedEnv?: Record<string, string>) {
  const label = `${maxConcurrent === undefined ? "load-default" : `load-${maxConcurrent}`}${deployedEnv ? "-deployed" : ""}`;
  const describe = `${maxConcurrent === undefined ? "maxConcurrent default (4)" : `maxConcurrent ${maxConcurrent}`}${deployedEnv ? ", as deployed" : ""}`;
  const gateway = await startGatewayWith(environment, label, maxConcurrent, [], deployedEnv);
  const client = new RawChatClient(gateway.port, TOKEN, LOAD_SESSIONS);
  const failures = new Failures();
  try {
    // Warm-up: each session's first turn creates it; the first model call loads the SDK.
    const sessions: string[] = [];
    await pool(LOAD_SESSIONS, LOAD_SESSIONS, async (index) => {
      let sessionId: string | undefined;
      for (let warm = 0; warm < WARMUP_TURNS_PER_SESSION; warm += 1) sessionId = (await turn(environment, client, sessionId, `warm ${index}`)).sessionId;
      sessions[index] = sessionId as string;
    });

    // Serial: one session, one turn at a time; what a turn costs the gateway without a queue.
    const serial: TurnRecord[] = [];
    const serialDeadline = performance.now() + SERIAL_MAX_MS;
    let serialSession: string | undefined;
    for (let index = 0; index < SERIAL_TURNS && performance.now() < serialDeadline; index += 1) {
      try {
        const record = await turn(environment, client, serialSession, "serial");
        serialSession = record.sessionId;
        serial.push(record);
      } catch (error) {
        failures.add((error as Error).message);
        if (failures.count > 20) break;
      }
    }

    await attachFakeTimes(environment, serial);

    // Load: 50 sessions, each a sequence of turns, until 3,000 turns were sent or 20 s passed.
    await environment.fake.reset();
    const records: TurnRecord[] = [];
    let issued = 0;
    const gatewayCpuBefore = await readProcessCpuSeconds(gateway.pid);
    const fakeCpuBefore = await readProcessCpuSeconds(environment.fake.pid);
    const benchCpuBefore = process.cpuUsage();
    const started = performance.now();
    const deadline = started + LOAD_MAX_MS;
    await Promise.all(
      sessions.map(async (sessionId) => {
        while (issued < LOAD_MAX_TURNS && performance.now() < deadline && failures.count <= 20) {
          issued += 1;
          try {
            records.push(await turn(environment, client, sessionId, "load"));
          } catch (error) {
            failures.add((error as Error).message);
          }
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const gatewayCpuSeconds = (await readProcessCpuSeconds(gateway.pid)) - gatewayCpuBefore;
    const fakeCpuSeconds = (await readProcessCpuSeconds(environment.fake.pid)) - fakeCpuBefore;
    await attachFakeTimes(environment, records);
    const paced = await measurePaced(environment, client, sessions, failures);
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const memory = await readProcessMemory(gateway.pid);
    const turnsPerSecond = records.length / (elapsedMs / 1000);
    const load = latencySummary(records);
    const serialSummary = latencySummary(serial);
    environment.context.log(
      `${describe}: ${records.length} turns in ${(elapsedMs / 1000).toFixed(2)} s = ${turnsPerSecond.toFixed(0)} turns/s; ` +
        `round trip p50 ${load.rttMs.p50} ms p99 ${load.rttMs.p99} ms; serial added p50 ${serialSummary.addedMs.p50} ms p99 ${serialSummary.addedMs.p99} ms; ` +
        `gateway CPU ${((gatewayCpuSeconds / elapsedMs) * 100_000).toFixed(0)}% (${((gatewayCpuSeconds * 1000) / Math.max(1, records.length)).toFixed(2)} ms/turn), fake ${((fakeCpuSeconds / elapsedMs) * 100_000).toFixed(0)}%; ${failures.count} failed`,
    );
    return {
      maxConcurrent: maxConcurrent ?? "default",
      sessions: LOAD_SESSIONS,
      issued,
      completedTurns: records.length,
      elapsedMs: Number(elapsedMs.toFixed(1)),
      turnsPerSecond: Number(turnsPerSecond.toFixed(1)),
      /** Little's law for a closed loop: 50 turns always in flight, so mean latency = 50 / throughput. */
      closedLoopMeanLatencyMs: Number(((LOAD_SESSIONS / turnsPerSecond) * 1000).toFixed(1)),
      load,
      serial: { ...serialSummary, turnsPerSecond: serial.length / (serial.reduce((sum, record) => sum + record.rttMs, 0) / 1000) },
      gatewayCpuPercent: Number(((gatewayCpuSeconds / elapsedMs) * 100_000).toFixed(1)),
      benchProcessCpuPercent: Number((((benchCpu.user + benchCpu.system) / 1000 / elapsedMs) * 100).toFixed(1)),
      fakeProcessCpuPercent: Number(((fakeCpuSeconds / elapsedMs) * 100_000).toFixed(1)),
      gatewayRssAfterBytes: memory.rssBytes,
      paced,
      failures: failures.count,
      failureSamples: failures.samples,
    };
  } finally {
    client.close();
    await stopGateway(gateway, "SIGTERM");
  }
}

const PACED_TURNS_PER_SECOND = 300;
const PACED_MS = 8_000;

/**
 * Open loop: the same 50 sessions offer 300 turns/s in total (each session one turn every
 * 50 / 300 s, phases spread), so latency is measured at the required throughput rather than at
 * saturation, where a closed loop's latency is only 50 / throughput (Little's law).
 */
async function measurePaced(environment: Environment, client: RawChatClient, sessions: readonly string[], failures: Failures) {
  await environment.fake.reset();
  const records: TurnRecord[] = [];
  const intervalMs = (sessions.length / PACED_TURNS_PER_SECOND) * 1000;
  const started = performance.now();
  await Promise.all(sessions.map(async (sessionId, index) => {
    let next = started + (index / sessions.length) * intervalMs;
    while (next < started + PACED_MS && failures.count <= 20) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        records.push(await turn(environment, client, sessionId, "paced"));
      } catch (error) {
        failures.add((error as Error).message);
      }
      next += intervalMs;
    }
  }));
  const elapsedMs = performance.now() - started;
  await attachFakeTimes(environment, records);
  return { offeredTurnsPerSecond: PACED_TURNS_PER_SECOND, achievedTurnsPerSecond: Number((records.length / (elapsedMs / 1000)).toFixed(1)), ...latencySummary(records) };
}

async function measureMemory(environment: Environment, nodeArgs: readonly string[] = [], extraEnv: Record<string, string> = {}, label = "memory") {
  // Each run has its own state dir (a fresh database). --inspect-port only says where the
  // inspector listens if SIGUSR1 opens it (after the last sample).
  const gateway = await startGatewayWith(environment, label, MEMORY_CONCURRENCY, [...nodeArgs, "--inspect-port=127.0.0.1:0"], extraEnv);
  const client = new RawChatClient(gateway.port, TOKEN, MEMORY_CONCURRENCY);
  const failures = new Failures();
  try {
    const samples: Array<{ turns: number; rssBytes: number; elapsedMs: number }> = [];
    const started = performance.now();
    samples.push({ turns: 0, rssBytes: (await readProcessMemory(gateway.pid)).rssBytes, elapsedMs: 0 });
    const sessions: Array<string | undefined> = new Array(MEMORY_SESSIONS).fill(undefined);
    let turns = 0;
    let timedOut = false;
    for (let round = 0; round < MEMORY_ROUNDS; round += 1) {
      if (performance.now() - started > MEMORY_MAX_MS || failures.count > 20) {
        timedOut = performance.now() - started > MEMORY_MAX_MS;
        break;
      }
      // One turn for every session per round: 1,000 turns between samples.
      await pool(MEMORY_SESSIONS, MEMORY_CONCURRENCY, async (index) => {
        if (performance.now() - started > MEMORY_MAX_MS || failures.count > 20) return;
        try {
          sessions[index] = (await turn(environment, client, sessions[index], `memory ${index}`)).sessionId;
          turns += 1;
        } catch (error) {
          failures.add((error as Error).message);
        }
      });
      await environment.fake.reset();
      const elapsedMs = performance.now() - started;
      samples.push({ turns, rssBytes: (await readProcessMemory(gateway.pid)).rssBytes, elapsedMs: Number(elapsedMs.toFixed(0)) });
      environment.context.log(`memory: ${turns} turns, VmRSS ${formatMiB(samples.at(-1)!.rssBytes)} at ${(elapsedMs / 1000).toFixed(1)} s`);
    }
    const final = await readProcessMemory(gateway.pid);
    const afterGc = await memoryAfterFullGc(gateway);
    if (afterGc !== undefined) {
      environment.context.log(`memory: after a forced full GC VmRSS ${formatMiB(afterGc.rssBytes)}, V8 heap used ${formatMiB(afterGc.heapUsedBytes)} of ${formatMiB(afterGc.heapTotalBytes)}`);
    }
    // The last half: the samples at 5,000 … 10,000 turns.
    const tail = samples.filter((sample) => sample.turns >= turns / 2).map((sample) => ({ x: sample.turns / 1000, y: sample.rssBytes / MiB }));
    return {
      sessions: MEMORY_SESSIONS,
      turns,
      timedOut,
      elapsedMs: Number((performance.now() - started).toFixed(0)),
      samples,
      finalRssBytes: samples.at(-1)!.rssBytes,
      peakRssBytes: final.peakRssBytes,
      afterFullGc: afterGc ?? null,
      lastHalfSlopeMiBPer1000Turns: Number(slope(tail).toFixed(2)),
      failures: failures.count,
      failureSamples: failures.samples,
    };
  } finally {
    client.close();
    await stopGateway(gateway, "SIGTERM");
  }
}

const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"];
const sampleText = (index: number): string =>
  `message ${index} about ${WORDS[index % WORDS.length]} and ${WORDS[(index * 7) % WORDS.length]}: the quick brown fox ${index % 97} jumps over the lazy dog`;

async function measureAppend(context: BenchContext, scratch: string) {
  const { openDatabase } = await import("../src/state/database.ts");
  const { SessionStore } = await import("../src/agent/sessions/session-store.ts");
  const directory = join(scratch, "append");
  await mkdir(directory, { recursive: true });
  const database = await openDatabase(join(directory, "faraday.sqlite"));
  try {
    const store = new SessionStore(database);
    const session = (name: string) => store.create({ key: `main:bench:${name}`, agentId: "main", channel: "bench", chat: name });
    const append = (id: string, index: number) =>
      store.append(id, index % 2 === 0 ? { role: "user", content: sampleText(index) } : { role: "assistant", content: sampleText(index) });

    // Warm the statements and the JIT on a throwaway session.
    const warm = session("warm");
    for (let index = 0; index < 500; index += 1) append(warm.id, index);

    const full = session("full");
    const fillStarted = performance.now();
    let filled = 0;
    while (filled < FULL_SESSION_MESSAGES && performance.now() - fillStarted < FILL_MAX_MS) {
      for (let batch = 0; batch < 1_000 && filled < FULL_SESSION_MESSAGES; batch += 1) append(full.id, filled++);
    }
    const fillMs = performance.now() - fillStarted;
    context.log(`append: filled one session with ${filled} messages in ${(fillMs / 1000).toFixed(1)} s (${((fillMs * 1000) / filled).toFixed(1)} µs/append)`);

    const timeAppends = (id: string, offset: number): number => {
      const started = performance.now();
      for (let index = 0; index < APPENDS_PER_SAMPLE; index += 1) append(id, offset + index);
      return ((performance.now() - started) * 1000) / APPENDS_PER_SAMPLE;
    };
    const emptyRuns: number[] = [];
    const fullRuns: number[] = [];
    for (let round = 0; round < APPEND_ROUNDS; round += 1) {
      // A fresh empty session each round; the full one keeps growing past 100,000.
      emptyRuns.push(timeAppends(session(`empty-${round}`).id, 0));
      fullRuns.push(timeAppends(full.id, filled + round * APPENDS_PER_SAMPLE));
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const emptyMicros = median(emptyRuns);
    const fullMicros = median(fullRuns);
    context.log(`append: empty session ${emptyMicros.toFixed(1)} µs/append, ${filled}-message session ${fullMicros.toFixed(1)} µs/append`);
    return {
      filledMessages: filled,
      fillMs: Number(fillMs.toFixed(0)),
      fillMicrosPerAppend: Number(((fillMs * 1000) / filled).toFixed(2)),
      appendsPerSample: APPENDS_PER_SAMPLE,
      emptyMicrosPerAppend: emptyRuns.map((value) => Number(value.toFixed(2))),
      fullMicrosPerAppend: fullRuns.map((value) => Number(value.toFixed(2))),
      emptyMedianMicros: Number(emptyMicros.toFixed(2)),
      fullMedianMicros: Number(fullMicros.toFixed(2)),
      ratio: Number((fullMicros / emptyMicros).toFixed(3)),
    };
  } finally {
    database.close();
  }
}

type LoadResult = Awaited<ReturnType<typeof measureLoad>>;
type MemoryResult = Awaited<ReturnType<typeof measureMemory>>;

/**
 * The issue's numbers are for 50 concurrent sessions on this machine: maxConcurrent 50, so all
 * 50 run at once, with Node's defaults. The default maxConcurrent (4) lets 4 sessions call the
 * model at once and queues the other 46 by design; its saturated latency is that queue (Little's
 * law: 50 / turns per second), reported without a target. RSS is judged as deployed (V8 sizes
 * its heap to this 23.5 GiB host otherwise); the other configuration is shown beside each.
 */
function rowsFor(results: {
  defaultLoad: LoadResult;
  wideLoad: LoadResult;
  deployedLoad: LoadResult;
  memory: MemoryResult;
  memoryFly: MemoryResult;
  append: Awaited<ReturnType<typeof measureAppend>>;
  deployedDescribe: string;
}): BenchRow[] {
  const { defaultLoad, wideLoad, deployedLoad, memory, memoryFly, append } = results;
  const ms = (value: number): string => `${value.toFixed(1)} ms`;
  const failed = (count: number): string => (count > 0 ? `; ${count} FAILED turns` : "");
  const loadRows = (load: LoadResult, label: string, saturatedTarget: boolean): BenchRow[] => [
    {
      figure: `turns/s, 50 sessions, ${label}`,
      ours: `${load.turnsPerSecond.toFixed(0)} (${load.completedTurns} turns in ${(load.elapsedMs / 1000).toFixed(1)} s; gateway CPU ${load.gatewayCpuPercent.toFixed(0)}%, bench ${load.benchProcessCpuPercent.toFixed(0)}%, fake ${load.fakeProcessCpuPercent.toFixed(0)}%${failed(load.failures)})`,
      anchor: "",
      target: ">= 300",
      met: load.turnsPerSecond >= 300 && load.failures === 0,
    },
    {
      figure: `  added latency p50 / p99 with all 50 always in flight (saturated)`,
      ours: `${ms(load.load.addedMs.p50)} / ${ms(load.load.addedMs.p99)} (round trip ${ms(load.load.rttMs.p50)} / ${ms(load.load.rttMs.p99)}; Little's law 50 / turns/s = ${ms(load.closedLoopMeanLatencyMs)})`,
      anchor: "",
      ...(saturatedTarget ? { target: "p99 <= 50 ms", met: load.load.addedMs.p99 <= 50 } : { target: "- (queue for 4 model slots)" }),
    },
    {
      figure: `  added latency p50 / p99 at 300 turns/s offered over the same 50 sessions`,
      ours: `${ms(load.paced.addedMs.p50)} / ${ms(load.paced.addedMs.p99)} (${load.paced.turns} turns, ${load.paced.achievedTurnsPerSecond.toFixed(0)} turns/s achieved)`,
      anchor: "",
      target: "p99 <= 50 ms",
      met: load.paced.addedMs.p99 <= 50 && load.paced.achievedTurnsPerSecond >= 0.95 * PACED_TURNS_PER_SECOND,
    },
  ];
  const serial = wideLoad.serial;
  // Shown for comparison: the target in brackets, not judged.
  const info = (rows: BenchRow[]): BenchRow[] => rows.map(({ met: _judged, ...row }) => ({ ...row, target: row.target ? `(${row.target})` : "" }));
  return [
    ...loadRows(wideLoad, "maxConcurrent 50 (all 50 at once)", true),
    {
      figure: "  added latency p50 / p99, 1 session, 1 turn at a time",
      ours: `${ms(serial.addedMs.p50)} / ${ms(serial.addedMs.p99)} (${serial.turns} turns; fake model ${ms(serial.fakeMs.p50)} / ${ms(serial.fakeMs.p99)})`,
      anchor: "",
      target: "p99 <= 50 ms",
      met: serial.addedMs.p99 <= 50,
    },
    ...loadRows(defaultLoad, "maxConcurrent 4 (default: 4 call the model at once, 46 wait)", false),
    ...info(loadRows(deployedLoad, `maxConcurrent 50, as deployed (${results.deployedDescribe})`, true)),
    ...memoryRows(memoryFly, `as deployed (${results.deployedDescribe})`),
    ...info(memoryRows(memory, "Node defaults on this 23.5 GiB host")),
    {
      figure: "SessionStore.append, empty session",
      ours: `${append.emptyMedianMicros.toFixed(1)} µs`,
      anchor: "",
      target: "",
    },
    {
      figure: `SessionStore.append, ${append.filledMessages.toLocaleString("en-US")}-message session`,
      ours: `${append.fullMedianMicros.toFixed(1)} µs (ratio ${append.ratio.toFixed(2)})`,
      anchor: "",
      target: "ratio ≈ 1 (<= 1.5)",
      met: append.ratio <= 1.5 && append.filledMessages >= FULL_SESSION_MESSAGES,
    },
  ];
}

/** The RSS rows of one memory run. */
function memoryRows(memory: Awaited<ReturnType<typeof measureMemory>>, label: string): BenchRow[] {
  const failed = (count: number): string => (count > 0 ? `; ${count} FAILED turns` : "");
  const memoryTurns = memory.turns === MEMORY_SESSIONS * MEMORY_ROUNDS ? "10,000 turns" : `${memory.turns} turns (bounded at ${MEMORY_MAX_MS / 1000} s)`;
  return [
    {
      figure: `gateway RSS after ${memoryTurns} in 1,000 sessions, ${label}`,
      ours: `${formatMiB(memory.finalRssBytes)} (peak ${formatMiB(memory.peakRssBytes)}; ${(memory.elapsedMs / 1000).toFixed(1)} s${failed(memory.failures)})`,
      anchor: "",
      target: "<= 150 MiB",
      met: memory.finalRssBytes <= 150 * MiB && memory.failures === 0 && !memory.timedOut,
    },
    {
      figure: "  RSS trend over the last half (5,000 to 10,000 turns, least squares)",
      ours: `${memory.lastHalfSlopeMiBPer1000Turns >= 0 ? "+" : ""}${memory.lastHalfSlopeMiBPer1000Turns.toFixed(2)} MiB / 1,000 turns (samples: ${memory.samples.map((sample) => (sample.rssBytes / MiB).toFixed(0)).join(" ")} MiB)`,
      anchor: "",
      target: "<= +1 MiB / 1,000 turns",
      met: memory.lastHalfSlopeMiBPer1000Turns <= 1,
    },
    {
      figure: "  then, after a forced full GC (diagnostic)",
      ours: memory.afterFullGc === null
        ? "could not open the inspector"
        : `VmRSS ${formatMiB(memory.afterFullGc.rssBytes)}; V8 heap used ${formatMiB(memory.afterFullGc.heapUsedBytes)} of ${formatMiB(memory.afterFullGc.heapTotalBytes)}`,
      anchor: "",
      target: "",
    },
  ];
}
