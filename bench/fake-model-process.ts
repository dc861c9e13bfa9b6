/**
 * The Anthropic fake (echo step, no latency) in a process of its own, for bench/agent.ts.
 *
 * In the bench's own process the fake and the load generator shared one event loop: at
 * saturation every fake response and every client callback queued behind each other, and
 * that queueing was counted as latency the gateway added. Here the fake answers from its own
 * process and times itself (FakeTimer, keyed by the turn tag in the echoed text); the bench
 * collects those timings over IPC after each phase, off the measured path.
 *
 *   const fake = await startFakeModelProcess({ apiKey, tag: /bench-turn-(\d+)\b/ });
 *   … fake.url …; const byTag = await fake.takeTimings(); await fake.close();
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { trackChild } from "./gateway-process.ts";

type ToChild = { type: "take" } | { type: "reset" } | { type: "close" };
type FromChild = { type: "ready"; url: string } | { type: "timings"; entries: Array<[number, number]> } | { type: "reset" } | { type: "error"; message: string };

export interface FakeModelProcess {
  readonly url: string;
  readonly pid: number;
  /** Every tag timed since the last take/reset → ms the fake spent answering it; clears them. */
  takeTimings(): Promise<Map<number, number>>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeModelProcess(options: { apiKey: string; tag: RegExp }): Promise<FakeModelProcess> {
  const child = fork(fileURLToPath(import.meta.url), [options.apiKey, options.tag.source], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, FARADAY_BENCH_FAKE_CHILD: "1" },
  });
  trackChild(child);
  const waiters: Array<(message: FromChild) => void> = [];
  child.on("message", (message: FromChild) => waiters.shift()?.(message));
  const next = (): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      const onExit = () => reject(new Error("the fake model process exited"));
      child.once("exit", onExit);
      waiters.push((message) => {
        child.off("exit", onExit);
        resolve(message);
      });
    });
  const ask = async (message: ToChild): Promise<FromChild> => {
    const answer = next();
    child.send(message);
    return answer;
  };
  const ready = await next();
  if (ready.type !== "ready") throw new Error(`the fake model process failed: ${ready.type === "error" ? ready.message : ready.type}`);
  return {
    url: ready.url,
    pid: child.pid!,
    async takeTimings() {
      const answer = await ask({ type: "take" });
      return new Map(answer.type === "timings" ? answer.entries : []);
    },
    async reset() {
      await ask({ type: "reset" });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.send({ type: "close" } satisfies ToChild);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function runChild(child: ChildProcess | NodeJS.Process): Promise<void> {
  const [apiKey, tagSource] = process.argv.slice(2);
  const send = (message: FromChild) => child.send?.(message);
  try {
    const [{ startAnthropicFake }, { echoLastUserMessage }, { FakeTimer }] = await Promise.all([
      import("../tests/fakes/anthropic-fake.ts"),
      import("../tests/fakes/model-script.ts"),
      import("./agent-gateway.ts"),
    ]);
    const timer = new FakeTimer(new RegExp(tagSource ?? "bench-turn-(\\d+)\\b"));
    const fake = await startAnthropicFake({ defaultStep: echoLastUserMessage, ...(apiKey ? { apiKey } : {}) });
    // The fake keeps every request it saw; nothing reads them here, so keep the list short.
    const trim = setInterval(() => {
      if (fake.requests.length > 256) fake.requests.length = 0;
    }, 100);
    process.on("message", (message: ToChild) => {
      if (message.type === "take") {
        const entries = [...timer.byTag];
        timer.reset();
        send({ type: "timings", entries });
      } else if (message.type === "reset") {
        timer.reset();
        send({ type: "reset" });
      } else {
        clearInterval(trim);
        timer.stop();
        void fake.close().then(() => process.exit(0));
      }
    });
    process.on("disconnect", () => process.exit(0));
    send({ type: "ready", url: fake.url });
  } catch (error) {
    send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }
}

if (process.env.FARADAY_BENCH_FAKE_CHILD === "1" && process.argv[1] === fileURLToPath(import.meta.url)) await runChild(process);
