/**
 * The scheduler's figures (issue 20), against the built gateway with Telegram and the model faked
 * on loopback:
 * - RSS and idle CPU of a gateway holding 10,000 future reminders, against the same gateway
 *   holding none (same state dir, same config; idle = nothing due, channels connected);
 * - a burst of 1,000 reminders due at the same instant: fire latency (claimed-at minus due, from
 *   schedule_runs), and delivery on Telegram; kill -9 mid-burst, restart, and count repeats;
 * - tokens per heartbeat (the model fake's usage, derived from the prompt it received).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { startAnthropicFake } from "../tests/fakes/anthropic-fake.ts";
import { startTelegramFake } from "../tests/fakes/telegram-fake.ts";
import { percentile, pool, readProcessCpuSeconds } from "./agent-gateway.ts";
import { formatMiB, formatMs, type BenchContext, type BenchModule, type BenchResult } from "./bench-module.ts";
import { freePort, readProcessMemory, spawnGateway, stopGateway, waitForHealthy, type GatewayProcess } from "./gateway-process.ts";

const TOKEN = "bench-gateway-token-0123456789";
const ANTHROPIC_KEY = "bench-anthropic-key";
const OWNER = 1001;
const IDLE_JOBS = 10_000;
const BURST = 1_000;
const SETTLE_MS = 8_000;
const CPU_WINDOW_MS = 10_000;
const RSS_TARGET_BYTES = 5 * 1024 * 1024;

async function call(port: number, path: string, method = "GET", body?: unknown): Promise<any> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export const scheduleBench: BenchModule = {
  name: "schedule",
  description: "10,000 reminders: RSS and idle CPU added; 1,000 due at once: fire latency, kill -9 mid-burst; tokens per heartbeat",
  async run(context: BenchContext): Promise<BenchResult> {
    const telegram = await startTelegramFake();
    const model = await startAnthropicFake({ apiKey: ANTHROPIC_KEY, defaultStep: { text: "HEARTBEAT_OK" } });
    const directory = await mkdtemp(join(tmpdir(), "faraday-bench-schedule-"));
    const stateDir = join(directory, "state");
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
      agents: { defaults: { model: "anthropic/claude-test", heartbeat: { every: "30m" } } },
      channels: { telegram: { enabled: true, apiRoot: telegram.url, allowFrom: [OWNER], owners: [OWNER] } },
      cron: { timezone: "UTC" },
    }));
    const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, TELEGRAM_BOT_TOKEN: telegram.token };
    let gateway: GatewayProcess | undefined;
    const start = async () => {
      const port = await freePort();
      gateway = spawnGateway(context.entry, { port, stateDir, cwd: context.root, env });
      await waitForHealthy(gateway, { timeoutMs: 30_000, intervalMs: 20 });
      return gateway;
    };
    const idle = async (label: string) => {
      const running = await start();
      await sleep(SETTLE_MS);
      const cpuBefore = await readProcessCpuSeconds(running.pid);
      const windowStart = performance.now();
      await sleep(CPU_WINDOW_MS);
      const cpuSeconds = (await readProcessCpuSeconds(running.pid)) - cpuBefore;
      const cpuPercent = (cpuSeconds * 100_000) / (performance.now() - windowStart);
      const memory = await readProcessMemory(running.pid);
      context.log(`${label}: VmRSS ${formatMiB(memory.rssBytes)} after ${SETTLE_MS / 1000} s; CPU ${cpuPercent.toFixed(2)}% of a core over ${CPU_WINDOW_MS / 1000} s idle`);
      return { rssBytes: memory.rssBytes, cpuPercent };
    };
    try {
      const none = await idle("no reminders");
      await stopGateway(gateway!, "SIGTERM");
      // 10,000 reminders a day or more away, stored as the API stores them.
      const database = new DatabaseSync(join(stateDir, "faraday.sqlite"));
      const insert = database.prepare(`INSERT INTO schedule_jobs (id, source, kind, spec, schedule, agent_id, text, deliver_to, model, enabled, paused, next_run, created_at, updated_at)
        VALUES (?, 'api', 'message', ?, ?, NULL, ?, ?, NULL, 1, 0, ?, ?, ?)`);
      const now = Date.now();
      database.exec("BEGIN");
      for (let index = 0; index < IDLE_JOBS; index++) {
        const at = now + 86_400_000 + index * 1_000;
        const stamp = new Date(now).toISOString();
        insert.run(`idle-${index}`, JSON.stringify({ kind: "once", at }), new Date(at).toISOString(), `reminder ${index}`, JSON.stringify({ channel: "telegram", chat: String(OWNER) }), at, stamp, stamp);
      }
      database.exec("COMMIT");
      database.close();
      const many = await idle(`${IDLE_JOBS} reminders`);

      // The burst: 1,000 reminders due at one instant, added over the API.
      const port = gateway!.port;
      const due = Date.now() + 15_000;
      await pool(BURST, 8, async (index) => {
        await call(port, "/api/cron", "POST", { id: `burst-${index}`, schedule: new Date(due).toISOString(), message: `burst-${index}`, deliverTo: { channel: "telegram", chat: String(OWNER) } });
      });
      context.log(`added ${BURST} reminders due at ${new Date(due).toISOString()} (${Math.round(due - Date.now())} ms from now)`);
      const burstSent = () => telegram.calls.filter((entry) => entry.method === "sendMessage" && /^burst-\d+$/.test(String(entry.params.text)));
      for (let waited = 0; waited < 60_000 && burstSent().length < 100; waited += 10) await sleep(10);
      gateway!.child.kill("SIGKILL");
      await gateway!.exited;
      const atKill = burstSent().length;
      context.log(`kill -9 with ${atKill} of ${BURST} delivered`);
      await start();
      const unfinished = () => {
        const reader = new DatabaseSync(join(stateDir, "faraday.sqlite"), { readOnly: true });
        try {
          return (reader.prepare("SELECT COUNT(*) AS n FROM ingress WHERE sender = 'faraday:outbound' AND status != 'done'").get() as { n: number }).n;
        } finally {
          reader.close();
        }
      };
      for (let waited = 0; waited < 120_000 && (burstSent().length < BURST - 1 || unfinished() > 0); waited += 50) await sleep(50);
      const sent = burstSent();
      const distinct = new Set(sent.map((entry) => entry.params.text)).size;
      const repeats = sent.length - distinct;
      const check = new DatabaseSync(join(stateDir, "faraday.sqlite"), { readOnly: true });
      const runs = check.prepare("SELECT scheduled_at, started_at FROM schedule_runs WHERE job_id LIKE 'burst-%'").all() as Array<{ scheduled_at: number; started_at: string }>;
      const claimedTwice = (check.prepare("SELECT COUNT(*) AS n FROM (SELECT job_id FROM schedule_runs WHERE job_id LIKE 'burst-%' GROUP BY job_id HAVING COUNT(*) > 1)").get() as { n: number }).n;
      check.close();
      const fireLatencies = runs.map((run) => Date.parse(run.started_at) - run.scheduled_at);
      const firstDelivery = Math.min(...sent.map((entry) => entry.at)) - due;
      const lastDelivery = Math.max(...sent.map((entry) => entry.at)) - due;
      context.log(`burst: ${runs.length} claimed (${claimedTwice} twice), fire p50 ${formatMs(percentile(fireLatencies, 0.5))} p99 ${formatMs(percentile(fireLatencies, 0.99))}; ${distinct} delivered, ${repeats} repeated; first ${formatMs(firstDelivery)} last ${formatMs(lastDelivery)} after due (last includes the kill and restart)`);

      // Heartbeat tokens: three runs with a short checklist; the fake answers HEARTBEAT_OK.
      await call(gateway!.port, "/api/agents/main/heartbeat", "PUT", { text: "- Any booking today still unconfirmed?\n- Any invoice overdue by more than 7 days?" });
      const heartbeats: Array<{ inputTokens: number; outputTokens: number; status: string }> = [];
      for (let index = 0; index < 3; index++) heartbeats.push((await call(gateway!.port, "/api/cron/heartbeat:main/run", "POST", {})).run);
      const tokens = heartbeats.map((run) => run.inputTokens + run.outputTokens);
      context.log(`heartbeats: ${heartbeats.map((run) => `${run.status} ${run.inputTokens} in / ${run.outputTokens} out`).join("; ")}`);

      const rssAdded = many.rssBytes - none.rssBytes;
      return {
        rows: [
          { figure: `RSS added by ${IDLE_JOBS.toLocaleString("en")} reminders (idle)`, ours: `${formatMiB(rssAdded)} (${formatMiB(none.rssBytes)} → ${formatMiB(many.rssBytes)})`, anchor: "", target: "≤ 5 MiB", met: rssAdded <= RSS_TARGET_BYTES },
          { figure: `idle CPU with ${IDLE_JOBS.toLocaleString("en")} reminders`, ours: `${many.cpuPercent.toFixed(2)}% of a core (none: ${none.cpuPercent.toFixed(2)}%)`, anchor: "", target: "nothing measurable added", met: many.cpuPercent - none.cpuPercent < 0.5 },
          { figure: `fire latency, ${BURST} due at once`, ours: `p50 ${formatMs(percentile(fireLatencies, 0.5))}, p99 ${formatMs(percentile(fireLatencies, 0.99))}`, anchor: "", target: "p99 ≤ 1 s", met: percentile(fireLatencies, 0.99) <= 1_000 },
          { figure: "kill -9 mid-burst: claimed twice / delivered twice / lost", ours: `${claimedTwice} / ${repeats} / ${BURST - distinct} (killed at ${atKill} of ${BURST} delivered)`, anchor: "", target: "0 / 0 / ≤ 1 (the one in flight)", met: claimedTwice === 0 && repeats === 0 && distinct >= BURST - 1 },
          { figure: "tokens per heartbeat (in + out)", ours: `${tokens.join(", ")}`, anchor: "", target: "" },
        ],
        data: { none, many, rssAddedBytes: rssAdded, fireLatencies: { p50: percentile(fireLatencies, 0.5), p99: percentile(fireLatencies, 0.99), max: Math.max(...fireLatencies) }, claimedTwice, repeats, distinct, atKill, firstDeliveryMs: firstDelivery, lastDeliveryMs: lastDelivery, heartbeats },
      };
    } finally {
      if (gateway && gateway.exitStatus === undefined) await stopGateway(gateway, "SIGTERM");
      await telegram.close();
      await model.close();
      await rm(directory, { recursive: true, force: true });
    }
  },
};
