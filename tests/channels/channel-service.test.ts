/**
 * ChannelService on its own: a loopback adapter implementing our ChannelAdapter port (the
 * platforms' libraries are covered by the per-channel tests) and a stub turn handler in place
 * of the agent runtime, over a real state database, ingress store, access policy, supervisor and
 * approval broker. Every "did not happen" is checked after a later event (a sentinel), never
 * after a sleep. The 429 `retry_after` and reconnect-by-restart paths are in
 * channel-delivery.test.ts (grammY against the Telegram fake) and not repeated here.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test, type TestContext } from "node:test";
import type { AgentRuntime, ApprovalReply, InboundChat, TurnResult } from "../../src/agent/agent-runtime.ts";
import type { ChannelAdapter, ChannelHooks, InboundMessage, SendOptions } from "../../src/channels/channel-adapter.ts";
import { ChannelService } from "../../src/channels/channel-service.ts";
import { validateConfig } from "../../src/config/load-config.ts";
import { ComponentRegistry } from "../../src/gateway/components.ts";
import { createLogger } from "../../src/logging/index.ts";
import { openDatabase } from "../../src/state/index.ts";
import { ApprovalBroker } from "../../src/tools/approvals/approval-broker.ts";

/** Every test is bounded: a broken chain must fail, not hang. */
const BOUNDED = { timeout: 10_000 };

/** A promise the test resolves by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

interface Sent {
  readonly chat: string;
  readonly text: string;
  readonly options: SendOptions | undefined;
}

/**
 * The ChannelAdapter port in memory: the test delivers messages through the hooks the
 * supervisor gave it, reports connection states, and reads what was sent. `sendText` can be
 * told to fail (after reporting a dropped connection, as a real adapter would).
 */
class LoopbackAdapter implements ChannelAdapter {
  readonly name = "telegram";
  readonly textLimit: number;
  readonly watchdogMs = Number.POSITIVE_INFINITY;
  readonly sent: Sent[] = [];
  readonly typing: string[] = [];
  #hooks: ChannelHooks | undefined;
  #nextId = 1;
  #failures: Array<(text: string) => Error | undefined> = [];
  #listeners: Array<() => void> = [];

  constructor(textLimit = 4_096) {
    this.textLimit = textLimit;
  }

  async start(hooks: ChannelHooks): Promise<void> {
    this.#hooks = hooks;
    hooks.setState("connected", "loopback");
  }

  async stop(): Promise<void> {
    this.#hooks = undefined;
  }

  get hooks(): ChannelHooks {
    assert.ok(this.#hooks, "the adapter is started");
    return this.#hooks;
  }

  /** The adapter's side of a platform update: resolves when the service let it be acknowledged. */
  deliver(message: Partial<InboundMessage> & { text: string; platformId: string }): Promise<void> {
    return this.hooks.receive({ channel: this.name, account: "bot", chat: "chat-a", chatType: "dm", sender: "alice", addressedToBot: false, ...message });
  }

  /** The next sendText calls run `decide` first; an Error it returns is thrown. */
  failWhen(decide: (text: string) => Error | undefined): void {
    this.#failures.push(decide);
  }

  async sendText(chat: string, text: string, options?: SendOptions): Promise<string> {
    for (const decide of this.#failures) {
      const error = decide(text);
      if (error) throw error;
    }
    this.sent.push({ chat, text, options });
    for (const listener of this.#listeners.splice(0)) listener();
    return String(this.#nextId++);
  }

  async sendTyping(chat: string): Promise<void> {
    this.typing.push(chat);
  }

  /** Resolves once `count` messages have been sent in total (event-driven, no polling). */
  async sentCount(count: number): Promise<Sent[]> {
    return this.until(() => this.sent.length >= count);
  }

  /** Resolves once `done` holds after a send (checked at each send, no polling). */
  async until(done: (sent: readonly Sent[]) => boolean): Promise<Sent[]> {
    while (!done(this.sent)) await new Promise<void>((resolve) => this.#listeners.push(resolve));
    return this.sent;
  }

  texts(chat?: string): string[] {
    return this.sent.filter((message) => chat === undefined || message.chat === chat).map((message) => message.text);
  }
}

/**
 * Stands in for the agent: the two methods ChannelService calls on it. Replies "echo: <text>";
 * a turn whose text has a gate waits for it.
 */
class StubTurns {
  readonly calls: InboundChat[] = [];
  readonly gates = new Map<string, ReturnType<typeof gate>>();
  /** Called when a turn starts (to look at what is stored at that moment). */
  onTurn: ((input: InboundChat) => void) | undefined;
  readonly #started: Array<() => void> = [];

  /** What answerApproval returns for a message text (the runtime's approval answer). */
  readonly approvalReplies = new Map<string, ApprovalReply>();
  /** Texts whose turn throws. */
  readonly failing = new Set<string>();
  readonly approvalChecks: string[] = [];

  answerApproval(input: { text: string }): ApprovalReply | undefined {
    this.approvalChecks.push(input.text);
    return this.approvalReplies.get(input.text);
  }

  async handle(input: InboundChat): Promise<TurnResult> {
    this.calls.push(input);
    this.onTurn?.(input);
    for (const listener of this.#started.splice(0)) listener();
    await this.gates.get(input.text)?.promise;
    if (this.failing.has(input.text)) throw new Error(`turn failed: ${input.text}`);
    return {
      sessionId: `session-${input.chat}`, agentId: "main", reply: `echo: ${input.text}`, toolCalls: [],
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 }, model: "stub/model",
    };
  }

  /** Resolves once `count` turns have started. */
  async started(count: number): Promise<void> {
    while (this.calls.length < count) await new Promise<void>((resolve) => this.#started.push(resolve));
  }
}

/**
 * Resolves once `condition` holds, checking after each turn of the event loop; throws after a
 * bounded number of turns, so a broken service fails the test instead of spinning forever.
 */
async function turnsUntil(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 20_000; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

/**
 * Resolves once every stored message is finished. A row is marked done just after its last
 * send resolves, so a test that saw the send waits for the record here (a positive condition).
 */
async function allFinished(service: ChannelService): Promise<void> {
  await turnsUntil(() => service.ingress.unfinished().length === 0, "every stored message finished");
}

async function setup(t: TestContext, options: { textLimit?: number; channel?: Record<string, unknown> } = {}) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-channel-service-"));
  const database = await openDatabase(join(directory, "faraday.sqlite"));
  const raw = { channels: { telegram: { enabled: true, dmPolicy: "allowlist", allowFrom: ["alice", "bob"], ...options.channel } } };
  const validated = await validateConfig(raw, {});
  assert.equal(validated.state, "valid", JSON.stringify(validated));
  const lines: string[] = [];
  const logger = createLogger({ level: "info", pretty: false, destination: new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }) });
  const turns = new StubTurns();
  const approvals = new ApprovalBroker(database);
  const components = new ComponentRegistry();
  const service = new ChannelService({
    database,
    // The service calls only handle() and answerApproval() on the runtime; the stub has both.
    runtime: turns as unknown as AgentRuntime,
    approvals,
    components,
    logger,
    config: () => (validated.state === "valid" ? validated.config : undefined),
  });
  t.after(async () => {
    for (const held of turns.gates.values()) held.open(); // a failed assertion must not leave a turn waiting
    await service.stop();
    approvals.expireAll();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });
  const adapter = new LoopbackAdapter(options.textLimit);
  service.add(adapter);
  // start() reports connected synchronously after an await in the supervisor: wait for it.
  await turnsUntil(() => components.get("channel:telegram")?.state === "connected", "the loopback channel connected");
  return { service, adapter, turns, approvals, components, lines };
}

test("a message is stored before it is handled, and acknowledged without waiting for the turn", BOUNDED, async (t) => {
  const { service, adapter, turns } = await setup(t);
  const hold = gate();
  turns.gates.set("hello", hold);
  let storedAtTurn: string[] = [];
  turns.onTurn = () => (storedAtTurn = service.ingress.unfinished().map((row) => `${row.message.platformId}:${row.status}`));
  await adapter.deliver({ text: "hello", platformId: "1" });
  // receive() resolved (the platform may drop its copy) while the turn is still running.
  await turns.started(1);
  assert.deepEqual(storedAtTurn, ["1:pending"], "the row was in the database when the agent saw the message");
  assert.equal(adapter.sent.length, 0);
  hold.open();
  await adapter.sentCount(1);
  assert.deepEqual(adapter.texts(), ["echo: hello"]);
  assert.ok(adapter.typing.includes("chat-a"), "typing shown while the turn ran");
  // The verified sender (no owners configured: a one-person assistant, so its owner).
  assert.deepEqual(turns.calls.map((call) => [call.channel, call.chat, call.sender, call.text]), [["telegram", "chat-a", { channel: "telegram", id: "alice", role: "owner" }, "hello"]]);
});

test("messages of one chat are handled in order, one at a time; another chat is answered meanwhile", BOUNDED, async (t) => {
  const { adapter, turns } = await setup(t);
  const first = gate();
  turns.gates.set("a1", first);
  await adapter.deliver({ chat: "chat-a", text: "a1", platformId: "1" });
  await adapter.deliver({ chat: "chat-a", text: "a2", platformId: "2" });
  await adapter.deliver({ chat: "chat-a", text: "a3", platformId: "3" });
  await adapter.deliver({ chat: "chat-b", sender: "bob", text: "b1", platformId: "4" });
  // The sentinel: chat B's reply goes out while chat A's first turn is still held.
  await adapter.sentCount(1);
  assert.deepEqual(adapter.texts(), ["echo: b1"]);
  assert.deepEqual(turns.calls.map((call) => call.text), ["a1", "b1"], "a2 waits for a1");
  first.open();
  await adapter.sentCount(4);
  assert.deepEqual(adapter.texts("chat-a"), ["echo: a1", "echo: a2", "echo: a3"]);
  assert.deepEqual(turns.calls.map((call) => call.text), ["a1", "b1", "a2", "a3"]);
});

test("a redelivered message (same platform id) is stored once and answered once", BOUNDED, async (t) => {
  const { service, adapter, turns } = await setup(t);
  await adapter.deliver({ text: "once", platformId: "42" });
  await adapter.deliver({ text: "once", platformId: "42" });
  await adapter.sentCount(1);
  await adapter.deliver({ text: "once", platformId: "42" }); // after it was answered, too
  // The sentinel: a later message in the same chat is answered after any duplicate would have been.
  await adapter.deliver({ text: "next", platformId: "43" });
  await adapter.sentCount(2);
  assert.deepEqual(adapter.texts(), ["echo: once", "echo: next"]);
  assert.deepEqual(turns.calls.map((call) => call.text), ["once", "next"]);
  await allFinished(service);
  assert.deepEqual(service.ingress.counts().map((row) => ({ ...row })), [{ channel: "telegram", status: "done", count: 2 }]);
});

test("a sender the access policy refuses is not answered and the agent never sees the message", BOUNDED, async (t) => {
  const { service, adapter, turns } = await setup(t);
  await adapter.deliver({ chat: "chat-a", sender: "mallory", text: "let me in", platformId: "1" });
  await adapter.deliver({ chat: "group-1", chatType: "group", sender: "alice", text: "group chatter", platformId: "2" });
  // The sentinel: an allowed sender in the same chat is answered after the refused message.
  await adapter.deliver({ chat: "chat-a", sender: "alice", text: "hi", platformId: "3" });
  await adapter.sentCount(1);
  assert.deepEqual(adapter.texts(), ["echo: hi"]);
  assert.deepEqual(turns.calls.map((call) => call.text), ["hi"]);
  await allFinished(service);
  const statuses = Object.fromEntries(service.ingress.counts().map((row) => [row.status, row.count]));
  assert.deepEqual(statuses, { done: 1, ignored: 2 });
});

test("with pairing, a stranger gets the pairing code from the service, not an answer from the agent", BOUNDED, async (t) => {
  const { service, adapter, turns } = await setup(t, { channel: { dmPolicy: "pairing", allowFrom: ["alice"] } });
  await adapter.deliver({ chat: "chat-s", sender: "stranger", text: "hello?", platformId: "1" });
  const [sent] = await adapter.sentCount(1);
  assert.match(sent!.text, /pairing code is [A-Z0-9]+/);
  assert.equal(sent!.chat, "chat-s");
  assert.deepEqual(turns.calls, []);
  assert.equal(service.access.pending().length, 1);
});

test("a long reply is split to the platform's limit; each chunk is recorded as sent", BOUNDED, async (t) => {
  const { service, adapter, turns } = await setup(t, { textLimit: 20 });
  let row: number | undefined;
  turns.onTurn = () => (row ??= service.ingress.unfinished()[0]?.id);
  const text = "one two three four five six seven eight nine ten";
  await adapter.deliver({ text, platformId: "1" });
  await adapter.sentCount(3);
  // Sentinel for "nothing more": a second message's reply comes after the chunks.
  await adapter.deliver({ text: "end", platformId: "2" });
  await adapter.until((sent) => sent.some((message) => message.text === "echo: end"));
  const chunks = adapter.texts().slice(0, -1);
  assert.ok(chunks.length >= 3 && chunks.every((chunk) => chunk.length <= 20), JSON.stringify(chunks));
  assert.equal(chunks.join(" ").replace(/\s+/g, " "), `echo: ${text}`);
  await allFinished(service);
  const stored = service.ingress.get(row!);
  assert.equal(stored?.status, "done");
  assert.equal(stored.chunksSent, chunks.length);
});

test("a reply cut off by a dropped connection keeps the chunks sent, and sends the rest once when the channel is connected again", BOUNDED, async (t) => {
  const { service, adapter, turns, lines } = await setup(t, { textLimit: 20 });
  let row: number | undefined;
  turns.onTurn = () => (row ??= service.ingress.unfinished()[0]?.id);
  let down = false;
  let attempts = 0;
  // The second chunk meets a dropped connection: the adapter reports it, then the send fails.
  adapter.failWhen(() => {
    attempts += 1;
    if (attempts === 2 || down) {
      down = true;
      adapter.hooks.setState("reconnecting", "socket closed");
      return new Error("socket closed");
    }
    return undefined;
  });
  await adapter.deliver({ text: "alpha beta gamma delta epsilon zeta eta theta", platformId: "1" });
  await adapter.sentCount(1);
  // Wait for the service to give up on this send (it logs; no quick retry while disconnected).
  await turnsUntil(() => lines.some((line) => line.includes("sent when the channel next connects")), "the reply parked");
  assert.equal(attempts, 2, "no quick retry into a connection that is down");
  const parked = service.ingress.get(row!);
  assert.equal(parked?.status, "answered");
  assert.equal(parked.chunksSent, 1, "the first chunk is recorded as sent");
  const first = adapter.texts();

  down = false;
  adapter.hooks.setState("connected", "back");
  await adapter.sentCount(2);
  // The sentinel: the next message of the chat is answered after the rest of the reply.
  await adapter.deliver({ text: "after", platformId: "2" });
  await adapter.until((sent) => sent.some((message) => message.text === "echo: after"));
  const texts = adapter.texts();
  assert.equal(texts.at(-1), "echo: after");
  const reply = texts.slice(0, -1);
  assert.equal(reply[0], first[0]);
  assert.equal(new Set(reply).size, reply.length, "no chunk sent twice");
  assert.equal(reply.join(" ").replace(/\s+/g, " "), "echo: alpha beta gamma delta epsilon zeta eta theta");
  await allFinished(service);
  assert.equal(service.ingress.get(row!)?.status, "done");
  assert.equal(turns.calls.length, 2, "the resend did not ask the agent again");
});

test("an approval button is decided only by the person who asked, on the channel it was asked on", BOUNDED, async (t) => {
  const { adapter, approvals } = await setup(t);
  const { record, outcome } = approvals.request({
    sessionId: "session-chat-a", agentId: "main", channel: "telegram", chat: "chat-a", requester: "alice",
    tool: "favcrm__cancel_booking", arguments: {}, reason: "policy: ask",
  });
  const acknowledged: Array<string | undefined> = [];
  const press = (sender: string, data: string) => adapter.hooks.action({ channel: "telegram", chat: "chat-a", sender, data, acknowledge: async (text) => void acknowledged.push(text) });
  await press("mallory", `approval:yes:${record.id}`);
  assert.equal(approvals.get(record.id)?.status, "pending");
  await press("alice", `approval:no:${record.id}`);
  assert.deepEqual(await outcome, { status: "denied", decidedBy: "user:alice" });
  await press("alice", `approval:yes:${record.id}`);
  await press("alice", "something-else");
  assert.deepEqual(acknowledged, ["Only the person who asked can answer this.", "Cancelled", "This request is no longer waiting.", undefined]);
});

test("a turn that fails leaves its message stored for the next start and does not block the chat", BOUNDED, async (t) => {
  const { service, adapter, turns, lines } = await setup(t);
  turns.failing.add("boom");
  await adapter.deliver({ text: "boom", platformId: "1" });
  await adapter.deliver({ text: "next", platformId: "2" });
  await adapter.until((sent) => sent.some((message) => message.text === "echo: next"));
  assert.deepEqual(adapter.texts(), ["echo: next"], "nothing is sent for the failed turn");
  await turnsUntil(() => service.ingress.unfinished().length === 1, "the next message finished");
  assert.deepEqual(service.ingress.unfinished().map((row) => [row.message.text, row.status]), [["boom", "pending"]]);
  assert.ok(lines.some((line) => line.includes("answered at the next start")));
});

test("a yes to a pending approval is answered at once, not queued behind the turn that asked", BOUNDED, async (t) => {
  const { service, adapter, turns } = await setup(t);
  const held = gate();
  turns.gates.set("cancel my booking", held);
  turns.approvalReplies.set("yes", { reply: "Approved — running favcrm__cancel_booking." });
  await adapter.deliver({ text: "cancel my booking", platformId: "1" });
  await turns.started(1);
  await adapter.deliver({ text: "yes", platformId: "2" });
  // The sentinel: the approval's reply goes out while the turn that asked is still held.
  await adapter.sentCount(1);
  assert.deepEqual(adapter.texts(), ["Approved — running favcrm__cancel_booking."]);
  assert.deepEqual(turns.calls.map((call) => call.text), ["cancel my booking"], "the yes is not a turn of its own");
  held.open();
  await adapter.sentCount(2);
  assert.deepEqual(adapter.texts(), ["Approved — running favcrm__cancel_booking.", "echo: cancel my booking"]);
  await allFinished(service);
  assert.deepEqual(turns.approvalChecks, ["cancel my booking", "yes"]);
});

test("an unclear answer shows the approval again with its yes/no buttons, and is not a turn", BOUNDED, async (t) => {
  const { service, adapter, turns, approvals } = await setup(t);
  const { record } = approvals.request({
    sessionId: "session-chat-a", agentId: "main", channel: "telegram", chat: "chat-a", requester: "alice",
    tool: "favcrm__cancel_booking", arguments: {}, reason: "policy: ask",
  });
  const again = "Reply YES to cancel booking B-1 or NO to keep it.";
  turns.approvalReplies.set("maybe?", { reply: again, askAgain: { type: "approval-requested", approval: record, text: again } });
  await adapter.deliver({ text: "maybe?", platformId: "1" });
  const [sent] = await adapter.sentCount(1);
  assert.equal(sent!.text, again);
  assert.deepEqual(sent!.options?.buttons, [{ label: "Yes, go ahead", data: `approval:yes:${record.id}` }, { label: "No", data: `approval:no:${record.id}` }]);
  await allFinished(service);
  assert.deepEqual(turns.calls, []);
});
