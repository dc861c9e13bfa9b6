/**
 * A zero-latency Anthropic Messages API (echo, below) in a process of its own, for bench/agent.ts.
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
    const { FakeTimer } = await import("./agent-gateway.ts");
    const timer = new FakeTimer(new RegExp(tagSource ?? "bench-turn-(\\d+)\\b"));
    const fake = await startEchoModel(apiKey ?? "");
    process.on("message", (message: ToChild) => {
      if (message.type === "take") {
        const entries = [...timer.byTag];
        timer.reset();
        send({ type: "timings", entries });
      } else if (message.type === "reset") {
        timer.reset();
        send({ type: "reset" });
      } else {
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

/**
 * A zero-latency Messages API that answers every POST /v1/messages with the text of the last
 * user message, at the least CPU it can: on this 2-core machine the fake shares the cores with
 * the gateway, and the test fake (tests/fakes/anthropic-fake.ts: full JSON parse of every
 * growing transcript, request validation, a request log) took ~40 % of one, CPU a remote model
 * API would never take from the gateway. It finds the last user message in the raw body (the
 * Messages API body lists messages in order; tools follow and hold no user text) and answers in
 * the API's JSON shape, which the real SDK parses. JSON only (the bench never streams).
 */
async function startEchoModel(apiKey: string): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import("node:http");
  const STRING = /"(?:text|content)":"((?:[^"\\]|\\.)*)"/g;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const answer = (status: number, body: string): void => {
        response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
      };
      if (request.method !== "POST" || request.url?.split("?")[0] !== "/v1/messages") return answer(404, '{"type":"error","error":{"type":"not_found_error","message":"not found"}}');
      // This SDK sends the key as a bearer token; older ones as x-api-key.
      if (request.headers["x-api-key"] !== apiKey && request.headers.authorization !== `Bearer ${apiKey}`) return answer(401, '{"type":"error","error":{"type":"authentication_error","message":"invalid API key"}}');
      const raw = Buffer.concat(chunks).toString("utf8");
      if (raw.includes('"stream":true')) return answer(400, '{"type":"error","error":{"type":"invalid_request_error","message":"the bench fake does not stream"}}');
      // The first "text"/"content" string after the last user turn (after the turn context) is that turn's text.
      STRING.lastIndex = Math.max(0, raw.lastIndexOf('"role":"user"'));
      let match = STRING.exec(raw);
      // The gateway's turn-context block comes first; the person's text follows it.
      if (match?.[1]?.startsWith("<turn_context>")) match = STRING.exec(raw);
      const text = match ? (JSON.parse(`"${match[1]}"`) as string) : "";
      const model = /^\{"model":"([^"]*)"/.exec(raw)?.[1] ?? "claude-bench";
      answer(200, `{"id":"msg_bench","type":"message","role":"assistant","model":${JSON.stringify(model)},"content":[{"type":"text","text":${JSON.stringify(text)}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":${Math.ceil(raw.length / 4)},"output_tokens":${Math.ceil(text.length / 4)}}}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (process.env.FARADAY_BENCH_FAKE_CHILD === "1" && process.argv[1] === fileURLToPath(import.meta.url)) await runChild(process);
