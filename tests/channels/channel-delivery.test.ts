/**
 * Replies that cannot go out at once, in-process: the real ChannelService and agent, the real
 * grammY against the Telegram fake, the Anthropic fake as the model, and a clock moved by hand.
 * What is checked is what the fake received.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test, type TestContext } from "node:test";
import { ChannelService, type ServiceClock } from "../../src/channels/channel-service.ts";
import { createTelegramAdapter } from "../../src/channels/telegram/telegram-adapter.ts";
import { validateConfig } from "../../src/config/load-config.ts";
import { ComponentRegistry } from "../../src/gateway/components.ts";
import { createLogger } from "../../src/logging/index.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText, type ModelStep, type RecordedRequest } from "../fakes/model-script.ts";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { eventually, startAgentHarness } from "../helpers/agent-harness.ts";

const OWNER = 1001;

/** Timers that fire only when the test moves time. */
class ManualClock implements ServiceClock {
  #now = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; ms: number; run: () => void }>();

  setTimeout(run: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, ms, run });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** The delays of the timers waiting now. */
  pending(): number[] {
    return [...this.#timers.values()].map((timer) => timer.ms);
  }

  advance(ms: number): void {
    this.#now += ms;
    const due = [...this.#timers].filter(([, timer]) => timer.at <= this.#now).sort(([, a], [, b]) => a.at - b.at);
    for (const [id, timer] of due) {
      this.#timers.delete(id);
      timer.run();
    }
  }
}

async function setup(t: TestContext, options: { reply?: (request: RecordedRequest) => ModelStep | Promise<ModelStep>; initialBackoffMs?: number } = {}) {
  // t.after hooks run first in, first out: this one (registered before the harness's, which
  // closes the database) stops the service, then the fakes — last set up, first torn down.
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const model = await startAnthropicFake();
  cleanups.push(() => model.close());
  model.setDefault(options.reply ?? ((request) => ({ text: `You said: ${lastUserText(request)}` })));
  const telegram = await startTelegramFake();
  cleanups.push(() => telegram.close());
  const env = { ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url };
  const raw = {
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { telegram: { enabled: true, allowFrom: [OWNER] } },
  };
  const harness = await startAgentHarness(t, { config: raw, env });
  const validated = await validateConfig(raw, env);
  assert.equal(validated.state, "valid");
  const lines: string[] = [];
  const logger = createLogger({ level: "info", pretty: false, destination: new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }) });
  const components = new ComponentRegistry();
  const clock = new ManualClock();
  const service = new ChannelService({
    database: harness.database, runtime: harness.runtime, approvals: harness.approvals, components, logger,
    config: () => (validated.state === "valid" ? validated.config : undefined),
    clock,
    ...(options.initialBackoffMs ? { supervisor: { initialBackoffMs: options.initialBackoffMs, maxBackoffMs: options.initialBackoffMs } } : {}),
  });
  cleanups.push(() => service.stop());
  service.add(createTelegramAdapter({ token: telegram.token, apiRoot: telegram.url, pollingTimeoutSeconds: 1, logger }));
  const state = () => components.get("channel:telegram")?.state;
  await eventually(() => state() === "connected", 10_000, "telegram connected");
  return { model, telegram, service, clock, lines, state, cleanups };
}

const sendCalls = (telegram: { calls: Array<{ method: string }> }) => telegram.calls.filter((call) => call.method === "sendMessage").length;

test("a Telegram 429 asking for 90 s is honoured without a restart: the reply goes out once the 90 s have passed, once", async (t) => {
  const { telegram, clock } = await setup(t);
  telegram.failNext("sendMessage", { status: 429, retryAfter: 90 });
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "slow down" });
  await telegram.waitForCall("sendMessage", undefined, 10_000);
  // The sentinel: the service has set its resend for the 90 s Telegram asked for.
  await eventually(() => clock.pending().includes(90_000), 10_000, "a resend timer of 90 s");
  assert.equal(sendCalls(telegram), 1, "no quick retry into the rate limit");
  assert.equal(telegram.sent(OWNER).length, 0);

  clock.advance(89_000);
  assert.equal(sendCalls(telegram), 1, "not before the 90 s");
  clock.advance(1_000);
  await eventually(() => telegram.sent(OWNER).length === 1, 10_000, "the reply after retry_after");
  assert.equal(telegram.sent(OWNER)[0]!.text, "You said: slow down");

  // A later message is answered in turn; the first reply was not sent again.
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "and now?" });
  await eventually(() => telegram.sent(OWNER).length === 2, 10_000, "the next reply");
  assert.deepEqual(telegram.sent(OWNER).map((message) => message.text), ["You said: slow down", "You said: and now?"]);
  assert.deepEqual(clock.pending(), []);
});

test("a reply produced while Telegram is down stays stored and goes out once when the channel connects again", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { telegram, service, lines, state, cleanups } = await setup(t, {
    // A backoff far longer than the test: only the restart below can reconnect the channel.
    initialBackoffMs: 600_000,
    reply: async (request) => {
      await gate;
      return { text: `You said: ${lastUserText(request)}` };
    },
  });
  cleanups.push(() => release()); // a failed assertion must not leave the turn waiting forever
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "are you there?" });
  await eventually(() => service.ingress.counts().some((row) => row.status === "pending"), 10_000, "the message stored");
  // Another poller takes over (409, not fatal): the channel is down, waiting for its backoff.
  telegram.failNext("getUpdates", { status: 409 });
  await eventually(() => state() === "reconnecting", 10_000, "reconnecting").catch((error) => { throw new Error(`${error.message}: ${state()}\n${lines.join("")}`); });
  release();
  await eventually(() => lines.some((line) => line.includes("sent when the channel next connects")), 10_000, "the reply parked");
  assert.equal(telegram.sent(OWNER).length, 0);
  assert.equal(service.ingress.answeredIn("telegram").length, 1, "the reply is stored, not dropped");

  await service.restart("telegram");
  await eventually(() => telegram.sent(OWNER).length === 1, 10_000, "the reply after the reconnect");
  assert.equal(telegram.sent(OWNER)[0]!.text, "You said: are you there?");
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "good" });
  await eventually(() => telegram.sent(OWNER).length === 2, 10_000, "the next reply");
  assert.deepEqual(telegram.sent(OWNER).map((message) => message.text), ["You said: are you there?", "You said: good"]);
  assert.equal(service.ingress.answeredIn("telegram").length, 0);
});
