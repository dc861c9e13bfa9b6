import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startAnthropicFake } from "../tests/fakes/anthropic-fake.ts";
import { startDiscordFake, type DiscordFake } from "../tests/fakes/discord-fake.ts";
import { echoLastUserMessage, type ModelFake } from "../tests/fakes/model-script.ts";
import { startTelegramFake, type TelegramFake, type TelegramParams } from "../tests/fakes/telegram-fake.ts";
import { memoryAfterFullGc, percentile, readProcessCpuSeconds } from "./agent-gateway.ts";
import { deployedSettings, stateDirPaths } from "./deployed.ts";
import { formatMiB, formatMs, type BenchContext, type BenchModule, type BenchResult, type BenchRow } from "./bench-module.ts";
import { freePort, readProcessMemory, spawnGateway, stopGateway, waitForHealthy, type GatewayProcess } from "./gateway-process.ts";

const TOKEN = "bench-gateway-token-0123456789abcdef";
const ANTHROPIC_KEY = "fake-anthropic-key-for-the-bench";
const MODEL = "anthropic/claude-bench";
const MiB = 1024 * 1024;

/** Discord's real HELLO heartbeat_interval (the fake's default is 1 s). */
const DISCORD_HEARTBEAT_MS = 41_250;
const DISCORD_GUILD = { id: "100000000000000001", name: "Bench guild", channels: [{ id: "200000000000000001", name: "general", type: 0 as const }] };

/** Idle RSS is read this long after the gateway is ready (both channels connected, or /healthz with none). */
const IDLE_AFTER_MS = 10_000;
const IDLE_TARGET_BYTES = 120 * MiB;

/** The burst: 100 private chats, 10 messages each, all pushed at once (round-robin over chats). */
const BURST_CHATS = 100;
const BURST_PER_CHAT = 10;
const BURST_TOTAL = BURST_CHATS * BURST_PER_CHAT;
/** Private chat id = sender id = FIRST_SENDER + chat index. */
const FIRST_SENDER = 7_000_001;
const BURST_MAX_MS = 40_000;
/** RSS is read again this long after the burst, before the forced-GC diagnostic. */
const SETTLE_AFTER_BURST_MS = 3_000;
/** After the last expected reply, how long to keep watching for duplicates. */
const DUPLICATE_GRACE_MS = 1_000;
/** The maxConcurrent 16 run only starts when this much of the bench's own budget is left. */
const BENCH_BUDGET_MS = 110_000;
const SECOND_RUN_NEEDS_MS = 30_000;

const HEALTHY_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 20_000;

/**
 * Telegram and Discord against their loopback fakes, through the BUILT gateway (the model is the
 * in-process Anthropic fake echoing the user's text with no latency):
 * - idle VmRSS 10 s after both channels are "connected" in /api/status (Telegram long polls
 *   with its default 30 s timeout; Discord's fake says HELLO with Discord's own 41.25 s
 *   heartbeat), beside the same gateway's idle VmRSS with no channel (10 s after /healthz), and,
 *   as diagnostics, with Telegram alone and Discord alone (those two run side by side);
 * - a burst of 1,000 Telegram messages over 100 private chats (10 each, all in allowFrom),
 *   pushed into the fake at once: time from the first push to the last sendMessage, and checks
 *   that every message was answered once, in order per chat. With agents.defaults.maxConcurrent
 *   at its default (4), again with fly.toml's NODE_OPTIONS (idle RSS too), and, when the budget
 *   allows, at 16. After each burst: VmRSS, and VmRSS and V8 heap after a forced full GC.
 * - kill -9 mid-burst (after 250, 500 and 750 of the 1,000 replies, one fresh gateway each), then
 *   a restart on the same state dir: replies lost (must be 0) and sent twice (a reply the fake
 *   took but the gateway had not recorded as sent when it died), per kill and in total.
 * Every wait is bounded (connect 20 s, burst 40 s, recovery 40 s); the whole bench takes about 100 s.
 * FARADAY_BENCH_CPU_PROF_DIR=DIR writes a CPU profile of every gateway there.
 */
export const channelsBench: BenchModule = {
  name: "channels",
  description: "idle RSS with Telegram+Discord connected to loopback fakes; 1,000-message Telegram burst over 100 chats; lost and duplicate replies across kill -9 mid-burst",
  async run(context: BenchContext): Promise<BenchResult> {
    const benchStarted = performance.now();
    const scratch = await mkdtemp(join(tmpdir(), "faraday-bench-channels-"));
    let model: ModelFake | undefined;
    try {
      model = await startAnthropicFake({ defaultStep: echoLastUserMessage, apiKey: ANTHROPIC_KEY });
      const environment: Environment = { context, scratch, model };
      const bare = await measureIdle(environment, "no channels", []);
      // Diagnostic: what each channel costs alone. Both gateways run at once (to keep the bench short).
      const [telegramOnly, discordOnly] = await Promise.all([measureIdle(environment, "Telegram only", ["telegram"]), measureIdle(environment, "Discord only", ["discord"])]);
      const withDefault = await runChannelsGateway(environment, { label: "default", maxConcurrent: undefined, measureIdle: true });
      // The same with the heap flags fly.toml ships for a 256 MB machine.
      const deployedEnv = await deployedSettings(context.root);
      const deployed = await runChannelsGateway(environment, { label: "default-fly", maxConcurrent: undefined, measureIdle: true, env: deployedEnv.env });
      const left = BENCH_BUDGET_MS - (performance.now() - benchStarted);
      let with16: ChannelsRun | undefined;
      if (left >= SECOND_RUN_NEEDS_MS) with16 = await runChannelsGateway(environment, { label: "16", maxConcurrent: 16, measureIdle: false });
      else context.log(`burst with maxConcurrent 16 skipped: ${(left / 1000).toFixed(0)} s of the bench's budget left`);
      const kills = await runKillBursts(environment);
      return {
        rows: [...rowsFor({ bare, telegramOnly, discordOnly }, withDefault, with16, { run: deployed, describe: deployedEnv.describe }), ...killRows(kills)],
        data: {
          discordHeartbeatIntervalMs: DISCORD_HEARTBEAT_MS,
          idleAfterMs: IDLE_AFTER_MS,
          bare,
          telegramOnly,
          discordOnly,
          maxConcurrentDefault: withDefault,
          maxConcurrentDefaultAsDeployed: { env: deployedEnv.env, ...deployed },
          maxConcurrent16: with16 ?? null,
          killMidBurst: kills,
        },
      };
    } finally {
      await model?.close();
      await rm(scratch, { recursive: true, force: true });
    }
  },
};

interface Environment {
  context: BenchContext;
  scratch: string;
  model: ModelFake;
}

const senderId = (chat: number): number => FIRST_SENDER + chat;
const burstText = (chat: number, index: number): string => `burst chat ${chat} message ${index}: please echo this line back`;

async function writeConfig(environment: Environment, label: string, config: Record<string, unknown>): Promise<string> {
  const stateDir = join(environment.scratch, label);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFile(join(stateDir, "openclaw.json"), `${JSON.stringify(config, null, 2)}\n`);
  return stateDir;
}

let profileCount = 0;

async function launch(environment: Environment, stateDir: string, env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<GatewayProcess> {
  // FARADAY_BENCH_CPU_PROF_DIR=DIR: every gateway writes a CPU profile there when it exits (as in bench/agent.ts).
  const profileDir = process.env.FARADAY_BENCH_CPU_PROF_DIR;
  const profileArgs = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `gateway-channels-${++profileCount}.cpuprofile`] : [];
  const gateway = spawnGateway(environment.context.entry, {
    port: await freePort(),
    stateDir,
    cwd: environment.scratch,
    env: {
      OPENCLAW_GATEWAY_TOKEN: TOKEN,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: environment.model.url,
      // The built-in FavCRM MCP server connects lazily before the first turn: keep it on loopback.
      FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp",
      ...env,
    },
    nodeArgs: [...profileArgs, ...nodeArgs],
  });
  await waitForHealthy(gateway, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: 10 });
  return gateway;
}

/** name -> state of every component in /api/status. */
async function componentStates(port: number): Promise<Map<string, string>> {
  const response = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(2_000) });
  if (response.status !== 200) throw new Error(`/api/status answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  const body = (await response.json()) as { components?: Array<{ name: string; state: string }> };
  return new Map((body.components ?? []).map((component) => [component.name, component.state]));
}

async function waitForConnected(gateway: GatewayProcess, names: readonly string[]): Promise<number> {
  const deadline = performance.now() + CONNECT_TIMEOUT_MS;
  let last = new Map<string, string>();
  while (performance.now() < deadline) {
    if (gateway.exitStatus !== undefined) throw new Error(`gateway exited with ${gateway.exitStatus} before its channels connected\n${gateway.outputTail()}`);
    last = await componentStates(gateway.port).catch(() => last);
    if (names.every((name) => last.get(name) === "connected")) return performance.now() - gateway.spawnedAt;
    await sleep(25);
  }
  throw new Error(`channels not connected within ${CONNECT_TIMEOUT_MS / 1000} s: ${names.map((name) => `${name}=${last.get(name) ?? "absent"}`).join(", ")}\n${gateway.outputTail()}`);
}

/** SIGTERM (SIGKILL after 10 s); says so when a gateway with channels was slow to exit. */
async function stopAndReport(environment: Environment, gateway: GatewayProcess): Promise<void> {
  const stopped = await stopGateway(gateway, "SIGTERM");
  if (stopped.forced || stopped.elapsedMs > 2_000 || stopped.status !== 0) {
    environment.context.log(`gateway ${gateway.pid}: SIGTERM -> exit ${stopped.status} after ${formatMs(stopped.elapsedMs)}${stopped.forced ? " (SIGKILLed)" : ""}`);
  }
}

type ChannelName = "telegram" | "discord";

/** Fakes for the channels asked for, and the config and environment that point a gateway at them. */
async function startChannelFakes(channels: readonly ChannelName[]) {
  const telegram = channels.includes("telegram") ? await startTelegramFake() : undefined;
  const discord = channels.includes("discord") ? await startDiscordFake({ guilds: [DISCORD_GUILD], heartbeatIntervalMs: DISCORD_HEARTBEAT_MS }) : undefined;
  const config: Record<string, unknown> = {};
  const env: Record<string, string> = {};
  if (telegram !== undefined) {
    // pollingTimeoutSeconds left at its default (30 s), as deployed.
    config.telegram = { enabled: true, apiRoot: telegram.url, allowFrom: Array.from({ length: BURST_CHATS }, (_, chat) => senderId(chat)) };
    env.TELEGRAM_BOT_TOKEN = telegram.token;
  }
  if (discord !== undefined) {
    config.discord = { enabled: true, apiBase: discord.apiBase };
    env.DISCORD_BOT_TOKEN = discord.token;
  }
  return {
    telegram,
    discord,
    config,
    env,
    components: channels.map((name) => `channel:${name}`),
    close: async () => {
      await telegram?.close();
      await discord?.close();
    },
  };
}

type GcReading = NonNullable<Awaited<ReturnType<typeof memoryAfterFullGc>>>;

/** Diagnostic only: VmRSS and V8 heap after a forced full GC (opens the gateway's inspector). */
async function afterGc(gateway: GatewayProcess): Promise<GcReading | null> {
  return (await memoryAfterFullGc(gateway)) ?? null;
}

/**
 * A gateway with `channels` (none, one or both) on fresh fakes: VmRSS 10 s after it is ready
 * (/healthz with no channel, else every channel "connected"), then after a forced full GC.
 */
async function measureIdle(environment: Environment, label: string, channels: readonly ChannelName[]) {
  const fakes = await startChannelFakes(channels);
  let gateway: GatewayProcess | undefined;
  try {
    const config = { agents: { defaults: { model: MODEL }, list: [{ id: "main", default: true }] }, ...(channels.length > 0 ? { channels: fakes.config } : {}) };
    const stateDir = await writeConfig(environment, `idle-${label}`, config);
    gateway = await launch(environment, stateDir, fakes.env, ["--inspect-port=127.0.0.1:0"]);
    const readyAfterMs = channels.length > 0 ? await waitForConnected(gateway, fakes.components) : performance.now() - gateway.spawnedAt;
    const telegramCallsBefore = fakes.telegram?.calls.length ?? 0;
    await sleep(IDLE_AFTER_MS);
    const memory = await readProcessMemory(gateway.pid);
    const states = channels.length > 0 ? await componentStates(gateway.port) : new Map<string, string>();
    const stillConnected = fakes.components.every((name) => states.get(name) === "connected");
    const gc = await afterGc(gateway);
    environment.context.log(
      `idle, ${label}: ready ${formatMs(readyAfterMs)} after spawn; VmRSS ${formatMiB(memory.rssBytes)} ${IDLE_AFTER_MS / 1000} s later` +
        `${gc === null ? "" : `; after a full GC ${formatMiB(gc.rssBytes)}, heap used ${formatMiB(gc.heapUsedBytes)} of ${formatMiB(gc.heapTotalBytes)}`}` +
        `${fakes.telegram === undefined ? "" : `; ${fakes.telegram.calls.length - telegramCallsBefore} Telegram calls while idle`}${stillConnected ? "" : `; NOT connected then: ${JSON.stringify(Object.fromEntries(states))}`}`,
    );
    return {
      channels,
      readyAfterMs: Math.round(readyAfterMs),
      ...memory,
      stillConnected,
      telegramCallsWhileIdle: fakes.telegram === undefined ? null : fakes.telegram.calls.length - telegramCallsBefore,
      afterFullGc: gc,
    };
  } finally {
    if (gateway !== undefined) await stopAndReport(environment, gateway);
    await fakes.close();
  }
}

type ChannelsRun = Awaited<ReturnType<typeof runChannelsGateway>>;

/** A gateway with Telegram and Discord on fresh fakes: idle RSS (optionally), then the burst. */
async function runChannelsGateway(environment: Environment, options: { label: string; maxConcurrent: number | undefined; measureIdle: boolean; env?: Record<string, string> }) {
  const { context } = environment;
  const fakes = await startChannelFakes(["telegram", "discord"]);
  const telegram = fakes.telegram as TelegramFake;
  const discord = fakes.discord as DiscordFake;
  let gateway: GatewayProcess | undefined;
  try {
    const defaults = options.maxConcurrent === undefined ? { model: MODEL } : { model: MODEL, maxConcurrent: options.maxConcurrent };
    const stateDir = await writeConfig(environment, `channels-${options.label}`, { agents: { defaults, list: [{ id: "main", default: true }] }, channels: fakes.config });
    // --inspect-port only says where the inspector would listen; it opens after the burst, for the GC reading.
    gateway = await launch(environment, stateDir, { ...stateDirPaths(options.env ?? {}, stateDir), ...fakes.env }, ["--inspect-port=127.0.0.1:0"]);
    const connectedAfterMs = await waitForConnected(gateway, fakes.components);
    context.log(`${options.label}${options.env ? " (as deployed)" : ""}: telegram and discord connected ${formatMs(connectedAfterMs)} after spawn`);

    let idle: { rssBytes: number; peakRssBytes: number; telegramCalls: number; discordGatewayEvents: number; statesAfter: Record<string, string> } | undefined;
    if (options.measureIdle) {
      const callsBefore = telegram.calls.length;
      const eventsBefore = discord.gatewayEvents.length;
      await sleep(IDLE_AFTER_MS);
      const memory = await readProcessMemory(gateway.pid);
      const states = await componentStates(gateway.port);
      idle = {
        ...memory,
        telegramCalls: telegram.calls.length - callsBefore,
        discordGatewayEvents: discord.gatewayEvents.length - eventsBefore,
        statesAfter: { telegram: states.get("channel:telegram") ?? "absent", discord: states.get("channel:discord") ?? "absent" },
      };
      context.log(
        `idle with both channels: VmRSS ${formatMiB(memory.rssBytes)} ${IDLE_AFTER_MS / 1000} s after connected (states then: ${JSON.stringify(idle.statesAfter)}; ` +
          `${idle.telegramCalls} Telegram calls, ${idle.discordGatewayEvents} Discord gateway events while idle)`,
      );
    }

    const burst = await runBurst(environment, gateway, telegram, options.label);
    await sleep(SETTLE_AFTER_BURST_MS);
    const settled = await readProcessMemory(gateway.pid);
    const gc = await afterGc(gateway);
    context.log(
      `after the burst, maxConcurrent ${options.label}: VmRSS ${formatMiB(settled.rssBytes)} ${SETTLE_AFTER_BURST_MS / 1000} s later` +
        `${gc === null ? "" : `; after a full GC ${formatMiB(gc.rssBytes)}, heap used ${formatMiB(gc.heapUsedBytes)} of ${formatMiB(gc.heapTotalBytes)}, external ${formatMiB(gc.externalBytes)}`}`,
    );
    return { maxConcurrent: options.maxConcurrent ?? "default (4)", connectedAfterMs: Math.round(connectedAfterMs), idle: idle ?? null, burst, settledAfterBurst: { afterMs: SETTLE_AFTER_BURST_MS, ...settled }, afterFullGc: gc };
  } finally {
    if (gateway !== undefined) await stopAndReport(environment, gateway);
    await fakes.close();
  }
}

async function runBurst(environment: Environment, gateway: GatewayProcess, telegram: TelegramFake, label: string) {
  const { context, model } = environment;
  model.requests.length = 0;
  const callsBefore = telegram.calls.length;
  const sentBefore = telegram.sent().length;
  const gatewayCpuBefore = await readProcessCpuSeconds(gateway.pid);
  const benchCpuBefore = process.cpuUsage();
  // What the gateway logs while it works through the burst.
  const output = { bytes: 0, lines: 0 };
  const countOutput = (chunk: Buffer): void => {
    output.bytes += chunk.length;
    for (const byte of chunk) if (byte === 10) output.lines += 1;
  };
  gateway.child.stdout?.on("data", countOutput);
  gateway.child.stderr?.on("data", countOutput);

  const firstPushAt = Date.now();
  const started = performance.now();
  for (let index = 0; index < BURST_PER_CHAT; index += 1) {
    for (let chat = 0; chat < BURST_CHATS; chat += 1) telegram.pushMessage({ chatId: senderId(chat), fromId: senderId(chat), text: burstText(chat, index) });
  }
  const pushMs = performance.now() - started;

  const deadline = started + BURST_MAX_MS;
  let timedOut = false;
  while (telegram.sent().length - sentBefore < BURST_TOTAL) {
    if (gateway.exitStatus !== undefined) throw new Error(`gateway exited with ${gateway.exitStatus} during the burst\n${gateway.outputTail()}`);
    if (performance.now() > deadline) {
      timedOut = true;
      break;
    }
    await sleep(5);
  }
  const gatewayCpuSeconds = (await readProcessCpuSeconds(gateway.pid)) - gatewayCpuBefore;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const cpuWindowMs = performance.now() - started;
  gateway.child.stdout?.off("data", countOutput);
  gateway.child.stderr?.off("data", countOutput);
  if (!timedOut) await sleep(DUPLICATE_GRACE_MS); // anything sent after this would be a duplicate
  const memory = await readProcessMemory(gateway.pid);

  const calls = telegram.calls.slice(callsBefore);
  const sendCalls = calls.filter((call) => call.method === "sendMessage");
  const replies = telegram.sent().slice(sentBefore);
  const replyTimes = sendCalls.map((call) => call.at - firstPushAt);
  const lastReplyMs = timedOut ? Number.NaN : (sendCalls[BURST_TOTAL - 1]?.at ?? Number.NaN) - firstPushAt;
  const callsByMethod: Record<string, number> = {};
  for (const call of calls) callsByMethod[call.method] = (callsByMethod[call.method] ?? 0) + 1;
  const modelCalls = model.requests.filter((request) => Array.isArray(request.body?.messages)).length;
  model.requests.length = 0;

  const checks = tallyReplies(replies);

  const throughput = Number.isFinite(lastReplyMs) ? BURST_TOTAL / (lastReplyMs / 1000) : Number.NaN;
  const ok = !timedOut && checks.answered === BURST_TOTAL && checks.chatsInOrder === BURST_CHATS && checks.duplicates === 0 && checks.unexpected === 0;
  context.log(
    `burst, maxConcurrent ${label}: ${timedOut ? `TIMED OUT after ${BURST_MAX_MS / 1000} s with ${replies.length} replies` : `${BURST_TOTAL} replies, last ${formatMs(lastReplyMs)} after the first push = ${throughput.toFixed(0)} msgs/s`}; ` +
      `first reply ${formatMs(replyTimes[0] ?? Number.NaN)}; CPU gateway ${((gatewayCpuSeconds / cpuWindowMs) * 100_000).toFixed(0)}%, bench (fakes) ${(((benchCpu.user + benchCpu.system) / 1000 / cpuWindowMs) * 100).toFixed(0)}%; ` +
      `gateway logged ${output.lines} lines / ${(output.bytes / 1024).toFixed(0)} KiB; ` +
      `${checks.answered} answered, ${checks.chatsInOrder} chats in order, ${checks.duplicates} duplicates, ${checks.unexpected} unexpected; calls ${JSON.stringify(callsByMethod)}; model calls ${modelCalls}`,
  );
  if (checks.samples.length > 0) context.log(`burst problems: ${checks.samples.join("; ")}`);
  return {
    messages: BURST_TOTAL,
    chats: BURST_CHATS,
    pushMs: Number(pushMs.toFixed(1)),
    timedOut,
    lastReplyMs,
    firstReplyMs: replyTimes[0] ?? null,
    replyMs: { p50: percentile(replyTimes, 0.5), p90: percentile(replyTimes, 0.9), p99: percentile(replyTimes, 0.99) },
    messagesPerSecond: Number(throughput.toFixed(1)),
    replies: replies.length,
    checks: { ...checks, ok },
    telegramCallsByMethod: callsByMethod,
    modelCalls,
    gatewayCpuPercent: Number(((gatewayCpuSeconds / cpuWindowMs) * 100_000).toFixed(1)),
    benchProcessCpuPercent: Number((((benchCpu.user + benchCpu.system) / 1000 / cpuWindowMs) * 100).toFixed(1)),
    gatewayOutput: output,
    gatewayRssAfterBytes: memory.rssBytes,
    gatewayPeakRssBytes: memory.peakRssBytes,
  };
}

/** Per chat: reply k must echo message k; nothing twice, nothing unexpected, nothing missing. */
function tallyReplies(replies: readonly TelegramParams[]) {
  const checks = { answered: 0, chatsInOrder: 0, outOfOrder: 0, duplicates: 0, unexpected: 0, missing: 0, samples: [] as string[] };
  const byChat = new Map<string, string[]>();
  for (const reply of replies) {
    const key = String(reply.chat_id);
    const list = byChat.get(key) ?? [];
    list.push(String(reply.text));
    byChat.set(key, list);
  }
  const note = (message: string): void => {
    if (checks.samples.length < 5) checks.samples.push(message);
  };
  for (let chat = 0; chat < BURST_CHATS; chat += 1) {
    const got = byChat.get(String(senderId(chat))) ?? [];
    byChat.delete(String(senderId(chat)));
    const expected = Array.from({ length: BURST_PER_CHAT }, (_, index) => burstText(chat, index));
    const seen = new Set<string>();
    let duplicatesHere = 0;
    for (const text of got) {
      if (seen.has(text)) {
        duplicatesHere += 1;
        checks.duplicates += 1;
        note(`chat ${chat}: duplicate ${JSON.stringify(text.slice(0, 80))}`);
      } else if (!expected.includes(text)) {
        checks.unexpected += 1;
        note(`chat ${chat}: unexpected ${JSON.stringify(text.slice(0, 80))}`);
      }
      seen.add(text);
    }
    const answeredHere = expected.filter((text) => seen.has(text)).length;
    checks.answered += answeredHere;
    checks.missing += BURST_PER_CHAT - answeredHere;
    if (got.length === expected.length && got.every((text, index) => text === expected[index])) checks.chatsInOrder += 1;
    else if (answeredHere === BURST_PER_CHAT && duplicatesHere === 0) {
      checks.outOfOrder += 1;
      note(`chat ${chat}: order ${got.map((text) => /message (\d+)/.exec(text)?.[1] ?? "?").join(",")}`);
    }
  }
  for (const [chat, texts] of byChat) {
    checks.unexpected += texts.length;
    note(`chat ${chat} was not in the burst: ${texts.length} replies`);
  }
  return checks;
}

/** Where in the burst each kill -9 lands: after this many replies have reached the fake. */
const KILL_AFTER_REPLIES = [250, 500, 750] as const;
const KILL_RECOVERY_MAX_MS = 40_000;

/**
 * kill -9 mid-burst, then a restart on the same state dir: every message must still be answered
 * (0 lost), and a reply the fake received but the gateway had not yet recorded as sent is sent
 * again (a duplicate). One fresh gateway, fake and state dir per kill point.
 */
async function runKillBursts(environment: Environment) {
  const rounds = [];
  for (const killAfter of KILL_AFTER_REPLIES) rounds.push(await runKillBurst(environment, killAfter));
  const total = rounds.reduce((sum, round) => ({
    messages: sum.messages + BURST_TOTAL,
    lost: sum.lost + round.checks.missing,
    unrecordedAtKill: sum.unrecordedAtKill + round.unrecordedAtKill,
    duplicates: sum.duplicates + round.checks.duplicates,
    unexpected: sum.unexpected + round.checks.unexpected,
  }), { messages: 0, lost: 0, duplicates: 0, unexpected: 0, unrecordedAtKill: 0 });
  environment.context.log(`kill -9 mid-burst, ${rounds.length} rounds: ${total.lost} lost, ${total.duplicates} duplicates of ${total.messages} replies; ${total.unrecordedAtKill} replies were taken by the fake but not yet recorded at the kills`);
  return { rounds, total };
}

async function runKillBurst(environment: Environment, killAfter: number) {
  const { context } = environment;
  const fakes = await startChannelFakes(["telegram"]);
  const telegram = fakes.telegram as TelegramFake;
  let gateway: GatewayProcess | undefined;
  try {
    const stateDir = await writeConfig(environment, `kill-${killAfter}`, { agents: { defaults: { model: MODEL }, list: [{ id: "main", default: true }] }, channels: fakes.config });
    gateway = await launch(environment, stateDir, fakes.env);
    await waitForConnected(gateway, fakes.components);
    for (let index = 0; index < BURST_PER_CHAT; index += 1) {
      for (let chat = 0; chat < BURST_CHATS; chat += 1) telegram.pushMessage({ chatId: senderId(chat), fromId: senderId(chat), text: burstText(chat, index) });
    }
    const deadline = performance.now() + BURST_MAX_MS;
    while (telegram.sent().length < killAfter && performance.now() < deadline && gateway.exitStatus === undefined) await sleep(1);
    gateway.child.kill("SIGKILL");
    await gateway.exited;
    const sentAtKill = telegram.sent().length;
    gateway = undefined;
    // Which of the replies the fake took had the dead gateway recorded as sent? Those it had not
    // are the window a kill can hit: they will be sent again after the restart.
    const unrecordedAtKill = unrecordedReplies(stateDir, telegram.sent());

    const restarted = await launch(environment, stateDir, fakes.env);
    gateway = restarted;
    const restartedAt = performance.now();
    await waitForConnected(restarted, fakes.components);
    let checks = tallyReplies(telegram.sent());
    const recoveryDeadline = restartedAt + KILL_RECOVERY_MAX_MS;
    while (checks.answered < BURST_TOTAL && performance.now() < recoveryDeadline) {
      if (restarted.exitStatus !== undefined) throw new Error(`gateway exited with ${restarted.exitStatus} after the kill\n${restarted.outputTail()}`);
      await sleep(20);
      checks = tallyReplies(telegram.sent());
    }
    const recoveredMs = performance.now() - restartedAt;
    await sleep(DUPLICATE_GRACE_MS); // anything sent after this would be a duplicate too
    checks = tallyReplies(telegram.sent());
    context.log(
      `kill -9 after ${sentAtKill} replies (aimed at ${killAfter}): restarted, all answered ${formatMs(recoveredMs)} after the restart; ` +
        `${checks.missing} lost, ${checks.duplicates} duplicates (${unrecordedAtKill} replies the fake had taken were not yet recorded as sent at the kill), ${checks.unexpected} unexpected, ${checks.chatsInOrder}/${BURST_CHATS} chats in order` +
        `${checks.samples.length > 0 ? `; ${checks.samples.join("; ")}` : ""}`,
    );
    return { killAfter, sentAtKill, unrecordedAtKill, recoveredMs: Math.round(recoveredMs), checks };
  } finally {
    if (gateway !== undefined) await stopAndReport(environment, gateway);
    await fakes.close();
  }
}

/** Replies the fake accepted whose ingress row says no chunk was sent (read from the dead gateway's database). */
function unrecordedReplies(stateDir: string, replies: readonly TelegramParams[]): number {
  const database = new DatabaseSync(join(stateDir, "faraday.sqlite"), { readOnly: true });
  try {
    const sentChunks = new Map<string, number>();
    for (const row of database.prepare("SELECT chat, message, chunks_sent FROM ingress").all() as Array<{ chat: string; message: string; chunks_sent: number }>) {
      sentChunks.set(`${row.chat}\n${(JSON.parse(row.message) as { text: string }).text}`, row.chunks_sent);
    }
    return replies.filter((reply) => (sentChunks.get(`${reply.chat_id}\n${String(reply.text)}`) ?? 0) === 0).length;
  } finally {
    database.close();
  }
}

type IdleReading = Awaited<ReturnType<typeof measureIdle>>;

function killRows(kills: Awaited<ReturnType<typeof runKillBursts>>): BenchRow[] {
  const { total, rounds } = kills;
  return [{
    figure: `Telegram burst killed -9 mid-way (after ${rounds.map((round) => round.sentAtKill).join(" / ")} of 1,000 replies), restarted: lost / sent twice`,
    ours: `${total.lost} / ${total.duplicates} of ${total.messages} (${(total.duplicates / total.messages * 100).toFixed(2)} %; per kill ${rounds.map((round) => round.checks.duplicates).join(" / ")}, = the replies the fake had taken and the gateway had not yet recorded: ${rounds.map((round) => round.unrecordedAtKill).join(" / ")}; all answered ${rounds.map((round) => formatMs(round.recoveredMs)).join(" / ")} after the restart)`,
    anchor: "",
    target: "0 lost; duplicates counted (0 in the common case)",
    met: total.lost === 0 && total.unexpected === 0,
  }];
}

function rowsFor(
  idleAlone: { bare: IdleReading; telegramOnly: IdleReading; discordOnly: IdleReading },
  withDefault: ChannelsRun,
  with16: ChannelsRun | undefined,
  deployed: { run: ChannelsRun; describe: string },
): BenchRow[] {
  const { bare, telegramOnly, discordOnly } = idleAlone;
  const gcNote = (gc: GcReading | null): string => (gc === null ? "" : `; after a full GC ${formatMiB(gc.rssBytes)}, heap used ${formatMiB(gc.heapUsedBytes)}`);
  const idleRow = (run: ChannelsRun, figure: string, versus: string): BenchRow[] => {
    const idle = run.idle;
    if (idle === null) return [];
    const stillConnected = idle.statesAfter.telegram === "connected" && idle.statesAfter.discord === "connected";
    return [{
      figure,
      ours: `${formatMiB(idle.rssBytes)} (${versus}connected ${formatMs(run.connectedAfterMs)} after spawn${stillConnected ? "" : `; then ${JSON.stringify(idle.statesAfter)}`})`,
      anchor: "",
      target: "<= 120 MiB",
      met: idle.rssBytes <= IDLE_TARGET_BYTES && stillConnected,
    }];
  };
  const rows: BenchRow[] = [];
  rows.push(...idleRow(
    withDefault,
    `idle RSS, Telegram + Discord connected to fakes (Discord heartbeat ${DISCORD_HEARTBEAT_MS / 1000} s), ${IDLE_AFTER_MS / 1000} s after connected`,
    withDefault.idle === null ? "" : `+${formatMiB(withDefault.idle.rssBytes - bare.rssBytes)} over no channels; `,
  ));
  rows.push({
    figure: `  same gateway, no channels, ${IDLE_AFTER_MS / 1000} s after /healthz`,
    ours: `${formatMiB(bare.rssBytes)}${gcNote(bare.afterFullGc)}`,
    anchor: "",
    target: "",
  });
  for (const alone of [telegramOnly, discordOnly]) {
    rows.push({
      figure: `  ${alone.channels.join(" + ")} only (diagnostic; the two run side by side)`,
      ours: `${formatMiB(alone.rssBytes)} (+${formatMiB(alone.rssBytes - bare.rssBytes)})${gcNote(alone.afterFullGc)}${alone.stillConnected ? "" : "; NOT connected"}`,
      anchor: "",
      target: "",
    });
  }
  const burstRows = (run: ChannelsRun, label: string): BenchRow[] => {
    const burst = run.burst;
    const calls = burst.telegramCallsByMethod;
    return [
      {
        figure: `Telegram burst, 1,000 msgs / 100 chats, ${label}: first push -> last reply`,
        ours: burst.timedOut
          ? `TIMED OUT at ${BURST_MAX_MS / 1000} s (${burst.replies} replies)`
          : `${formatMs(burst.lastReplyMs)} = ${burst.messagesPerSecond.toFixed(0)} msgs/s (first reply ${formatMs(burst.firstReplyMs ?? Number.NaN)}, median ${formatMs(burst.replyMs.p50)}; CPU gateway ${burst.gatewayCpuPercent.toFixed(0)}%, bench ${burst.benchProcessCpuPercent.toFixed(0)}%)`,
        anchor: "",
        target: "",
      },
      {
        figure: "  answered / chats in order / duplicates",
        ours: `${burst.checks.answered}/${BURST_TOTAL} / ${burst.checks.chatsInOrder}/${BURST_CHATS} / ${burst.checks.duplicates}${burst.checks.unexpected > 0 ? ` (+${burst.checks.unexpected} unexpected)` : ""} (${calls.sendMessage ?? 0} sendMessage, ${calls.sendChatAction ?? 0} sendChatAction, ${calls.getUpdates ?? 0} getUpdates; ${burst.modelCalls} model calls)`,
        anchor: "",
        target: `${BURST_TOTAL} / ${BURST_CHATS} / 0`,
        met: burst.checks.ok,
      },
      {
        figure: "  gateway RSS right after the burst (diagnostic)",
        ours: `${formatMiB(burst.gatewayRssAfterBytes)}; ${run.settledAfterBurst.afterMs / 1000} s later ${formatMiB(run.settledAfterBurst.rssBytes)}${gcNote(run.afterFullGc)}`,
        anchor: "",
        target: "",
      },
    ];
  };
  rows.push(...idleRow(deployed.run, `idle RSS, both channels, as deployed (${deployed.describe})`, ""));
  rows.push(...burstRows(withDefault, "maxConcurrent 4 (default)"));
  if (with16 !== undefined) rows.push(...burstRows(with16, "maxConcurrent 16"));
  rows.push(...burstRows(deployed.run, "maxConcurrent 4, as deployed"));
  return rows;
}
