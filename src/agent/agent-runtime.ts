import { randomUUID } from "node:crypto";
import type { ConfigService } from "../gateway/config-service.ts";
import { redactEnvValues, type FaradayConfig } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { DISK_FULL_REPLY } from "../state/index.ts";
import type { Logger } from "../logging/index.ts";
import { approvalPrompt, type ApprovalBroker, type ApproverContact, type ExecutedToolCall, type ToolAccess, type ToolCatalog, type ToolDescriptor, type ToolNotice, type VerifiedSender } from "../tools/index.ts";
import { estimateTokens, planCompaction, renderForSummary } from "./context-window.ts";
import type { AgentFiles } from "./memory/agent-files.ts";
import type { ChatMessage, ModelResponse, ModelUsage } from "./models/model-client.ts";
import { createResilientModel, ModelError, ModelSlots, resolveModelCandidates } from "./models/index.ts";
import { SessionLanes } from "./sessions/session-lanes.ts";
import { defuseTurnContext, renderTurnContext, resolveTimeZone, TURN_CONTEXT_GUIDE, type SenderRole } from "./turn-context.ts";
import type { SessionRecord, SessionStore } from "./sessions/session-store.ts";

type AgentConfig = NonNullable<NonNullable<FaradayConfig["agents"]>["list"]>[number];

/** An entry of `agents.list` (or the implicit `main`). */
type AgentEntry = {
  readonly id: string; readonly model?: unknown; readonly instructions?: string; readonly name?: string;
  readonly role?: AgentConfig["role"]; readonly tools?: AgentConfig["tools"]; readonly toolArgs?: AgentConfig["toolArgs"];
  readonly timezone?: string;
};

/** The sender of a turn: a platform id (web chat, CLI: the token holder, an owner) or the verified person a channel vouches for. */
export type TurnSender = string | VerifiedSender;

export const DEFAULT_MAX_TOOL_ROUNDS = 8;
export const DEFAULT_CONTEXT_TOKENS = 100_000;
export const DEFAULT_MAX_CONCURRENT = 4;

/** A message for the agent, already normalised by its channel. */
export interface InboundChat {
  readonly channel: string;
  readonly chat: string;
  readonly text: string;
  readonly account?: string;
  readonly agentId?: string;
  /** Continue this session (web chat); otherwise the chat's active session. */
  readonly sessionId?: string;
  /**
   * Who wrote it: a platform user id ("web" for the web chat: the owner), or — from a channel —
   * the verified sender with `role` ("owner" | "customer"), name and phone where known. A
   * customer's tool calls are asked to the owners (`approvers`); only they can approve them.
   */
  readonly sender?: TurnSender;
  /** Owners' DM chats a customer's confirm-level calls are asked in (channels fill it). */
  readonly approvers?: readonly ApproverContact[];
  /** The sender's display name, as the platform gives it (told to the model each turn). */
  readonly senderName?: string;
  /**
   * The sender's role, decided by the channel layer (owners config, issue 18 roles). Absent: the
   * web chat and the API are the owner's, every other channel's sender is a "user".
   */
  readonly senderRole?: SenderRole;
  /** The sender's own IANA time zone when known; otherwise the agent's, the defaults', the host's. */
  readonly senderTimezone?: string;
  /** Direct message or group chat; default "dm". */
  readonly chatType?: "dm" | "group";
  /** Called with each text fragment as the model streams. */
  readonly onDelta?: (text: string) => void;
  /** Called when the gateway must tell the chat something mid-turn (an approval request). */
  readonly onNotice?: (notice: ToolNotice) => void;
  /** Called when a pinned tool argument needs the sender's phone number and it is unknown. */
  readonly onPhoneNeeded?: () => void;
  /** Scheduled turns: a session of their own (the heartbeat's), started fresh when asked. */
  readonly sessionKey?: string;
  readonly freshSession?: boolean;
  /** Scheduled turns: a model for this turn (provider/model), instead of the agent's. */
  readonly model?: string;
  /** The heartbeat: only read-only tools the policy runs without asking are offered and run. */
  readonly readOnlyTools?: boolean;
  /** A scheduled turn: its text is an instruction, never a person's answer to a pending approval. */
  readonly scheduled?: boolean;
}

/**
 * A chat message that answered (or failed to answer) a pending approval. `reply` is the text
 * for the chat; with `askAgain`, the message was neither a yes nor a no, and the chat should
 * show this notice (the approval again, with its buttons where the platform has them).
 */
export interface ApprovalReply {
  readonly reply: string;
  readonly askAgain?: ToolNotice;
}

export interface TurnResult {
  readonly sessionId: string;
  readonly agentId: string;
  readonly reply: string;
  readonly toolCalls: ReadonlyArray<{ name: string; arguments: Record<string, unknown>; result: string; decision: string; isError: boolean }>;
  readonly usage: { inputTokens: number; outputTokens: number; cacheReadTokens: number };
  readonly model: string | null;
  /** Set when the reply explains a failure (e.g. MODEL_RATE_LIMITED). */
  readonly errorCode?: string;
}

export interface AgentRuntimeDeps {
  readonly config: ConfigService;
  readonly sessions: SessionStore;
  readonly files: AgentFiles;
  readonly tools: ToolCatalog;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Injected in tests to avoid real waits during retries. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly approvals?: ApprovalBroker;
  /** Runs before each model turn builds its tool list (MCP: try lazy servers once). */
  readonly beforeTurn?: () => Promise<void>;
  /** Called after every turn (the extension refreshes the status it reports). */
  readonly onTurnFinished?: (result: TurnResult) => void;
  /** Where a failed write is reported; a full disk or a damaged database gets a one-sentence reply. */
  readonly storage?: { report(error: unknown, what: string): "disk_full" | "damaged" | "other" };
  /** The clock the turn context reads; injected in tests. Default `new Date()`. */
  readonly now?: () => Date;
}

/** The role a turn's sender has: as the channel layer decided, else "owner" on the web chat/API, else "user". */
export function senderRoleOf(input: Pick<InboundChat, "channel" | "senderRole" | "sender">): SenderRole {
  // A channel's verified sender carries the role the roles decided (owner or customer).
  if (typeof input.sender === "object") return input.sender.role;
  return input.senderRole ?? (input.channel === "web" ? "owner" : "user");
}

/** What a chat is told when the database is damaged. One sentence, no internals. */
export const DATABASE_DAMAGED_REPLY = "I can't answer right now because the gateway's database is damaged; the operator needs to restore it, so please try again later.";

const HELP = [
  "Commands:",
  "/new or /reset — start a fresh conversation (long-term memory is kept)",
  "/status — agent, model, session size and token usage",
  "/model — the model this conversation uses; /model provider/model switches it, /model default goes back (owner only)",
  "/whoami — your role and ids as the gateway sees them",
  "/help — this list",
].join("\n");

function addUsage(total: { inputTokens: number; outputTokens: number; cacheReadTokens: number }, usage: ModelUsage) {
  total.inputTokens += usage.inputTokens;
  total.outputTokens += usage.outputTokens;
  total.cacheReadTokens += usage.cacheReadTokens;
}

/**
 * The agent: routes a message to its agent and session, runs the model/tool loop in the
 * session's lane, and writes every step to the transcript as it happens.
 */
export class AgentRuntime {
  readonly #deps: AgentRuntimeDeps;
  readonly lanes = new SessionLanes();
  /**
   * Model calls at once, per provider: `models.providers.<name>.maxConcurrent`, else
   * `agents.defaults.maxConcurrent` (4). A turn storing messages, running a tool or waiting for a
   * person's YES holds none, and a provider that hangs fills only its own.
   */
  readonly slots: ModelSlots;

  constructor(deps: AgentRuntimeDeps) {
    this.#deps = deps;
    this.slots = new ModelSlots((provider) => {
      const config = this.#config();
      return config?.models?.providers?.[provider]?.maxConcurrent ?? config?.agents?.defaults?.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
    });
    deps.config.on("config-changed", () => this.slots.refresh());
  }

  #config(): FaradayConfig | undefined {
    const state = this.#deps.config.current();
    return state.state === "valid" ? state.config : undefined;
  }

  /** A message built from the resolved config, with every `${env:…}` value put back as its reference. */
  #redact(text: string): string {
    return redactEnvValues(text, this.#deps.config.raw(), this.#deps.env);
  }

  /**
   * The agent for a chat: explicit id, else the first matching binding (its `match.role`, if any,
   * must be the sender's role), else — for a customer — the first `role: "customer"` agent, else
   * the default agent. An agent with `role: "customer"` never answers an owner.
   */
  resolveAgent(input: { agentId?: string; channel: string; account?: string; chat: string; role?: "owner" | "customer" }): AgentEntry {
    const config = this.#config();
    const list = config?.agents?.list ?? [];
    const find = (id: string): AgentEntry | undefined => list.find((agent) => agent.id === id) ?? (list.length === 0 && id === "main" ? { id: "main" } : undefined);
    if (input.agentId) {
      const agent = find(input.agentId);
      if (!agent) {
        const known = list.map((entry) => entry.id).join(", ") || "main";
        throw new FaradayError("AGENT_NOT_FOUND", this.#redact(`no agent "${input.agentId}"; agents are ${known}`));
      }
      return agent;
    }
    const role = input.role ?? "owner";
    const fits = (agent: AgentEntry | undefined): agent is AgentEntry => agent !== undefined && (role === "customer" || agent.role !== "customer");
    for (const candidate of config?.bindings ?? []) {
      const matches = candidate.match.channel === input.channel &&
        (candidate.match.account === undefined || candidate.match.account === input.account) &&
        (candidate.match.chat === undefined || String(candidate.match.chat) === input.chat) &&
        (candidate.match.role === undefined || candidate.match.role === role);
      const bound = matches ? find(candidate.agentId) : undefined;
      if (fits(bound)) return bound;
    }
    if (role === "customer") {
      const customerAgent = list.find((agent) => agent.role === "customer");
      if (customerAgent) return customerAgent;
    }
    return [list.find((agent) => agent.default), ...list].find(fits) ?? { id: "main" };
  }

  #sessionFor(agentId: string, input: Pick<InboundChat, "sessionId" | "channel" | "chat" | "sessionKey" | "freshSession">): SessionRecord {
    if (input.sessionKey) {
      const session = this.#deps.sessions.activeFor({ key: input.sessionKey, agentId, channel: input.channel, chat: input.chat });
      return input.freshSession && session.messageCount > 0 ? this.#deps.sessions.reset(session) : session;
    }
    if (input.sessionId) {
      const existing = this.#deps.sessions.get(input.sessionId);
      if (!existing) throw new FaradayError("SESSION_NOT_FOUND", `no session ${input.sessionId}; omit sessionId to start one`);
      return existing;
    }
    if (input.channel === "web") {
      // Each new web chat is its own conversation.
      const chat = randomUUID();
      return this.#deps.sessions.create({ key: `${agentId}:web:${chat}`, agentId, channel: "web", chat });
    }
    const dmScope = this.#config()?.session?.dmScope ?? "per-peer";
    const key = dmScope === "main" ? `${agentId}:main` : `${agentId}:${input.channel}:${input.chat}`;
    return this.#deps.sessions.activeFor({ key, agentId, channel: input.channel, chat: input.chat });
  }

  /**
   * If `text` is this sender's answer to a pending approval in the chat's session, decide it
   * and return the acknowledgement; the first message that is neither a clear yes nor a clear no
   * returns the approval asked again. Otherwise undefined. Channels call this before queueing,
   * since the turn that asked is still holding the chat's place in line.
   */
  answerApproval(input: { channel: string; chat: string; sender: string; text: string; account?: string; role?: "owner" | "customer" }): ApprovalReply | undefined {
    if (!this.#deps.approvals?.pending().length) return undefined;
    const agent = this.resolveAgent(input);
    const session = this.#sessionFor(agent.id, input);
    return this.#answerApproval(session.id, input.sender, input.text);
  }

  #answerApproval(sessionId: string, sender: string, text: string): ApprovalReply | undefined {
    const answered = this.#deps.approvals?.answerFromChat(sessionId, sender, text);
    if (!answered) return undefined;
    const { record } = answered;
    if (answered.kind === "unclear") {
      const reply = approvalPrompt(record, { again: true });
      return { reply, askAgain: { type: "approval-requested", approval: record, text: reply } };
    }
    return { reply: record.status === "approved" ? `Approved — running ${record.tool}.` : `Cancelled — ${record.tool} will not run.` };
  }

  /**
   * Handle one message. Resolves when the reply is ready (and already on disk). When the disk is
   * full (or the database damaged) the reply is one sentence saying so, with `errorCode`
   * DISK_FULL (DATABASE_FAILED), and nothing of the turn is stored.
   */
  async handle(input: InboundChat): Promise<TurnResult> {
    try {
      return await this.#handle(input);
    } catch (error) {
      const kind = this.#deps.storage?.report(error, "agent turn") ?? "other";
      if (kind === "other") throw error;
      this.#deps.logger.error({ code: kind === "disk_full" ? "DISK_FULL" : "DATABASE_FAILED", err: (error as Error).message, channel: input.channel }, "a turn could not be saved; its reply is the one-sentence explanation");
      return {
        sessionId: input.sessionId ?? "", agentId: input.agentId ?? "", reply: kind === "disk_full" ? DISK_FULL_REPLY : DATABASE_DAMAGED_REPLY,
        toolCalls: [], usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 }, model: null, errorCode: kind === "disk_full" ? "DISK_FULL" : "DATABASE_FAILED",
      };
    }
  }

  async #handle(input: InboundChat): Promise<TurnResult> {
    const agent = this.resolveAgent({ ...input, role: senderRole(input) });
    const session = this.#sessionFor(agent.id, input);
    // A YES/NO answering a pending approval is handled here, outside the lane: the turn that
    // asked is still running in it, waiting for exactly this answer.
    const answered = input.scheduled ? undefined : this.#answerApproval(session.id, senderId(input), input.text);
    if (answered) {
      if (answered.askAgain) input.onNotice?.(answered.askAgain);
      return this.#commandReply(session, agent.id, answered.reply);
    }
    // Re-read inside the lane: an earlier turn may have compacted or counted messages meanwhile.
    const result = await this.lanes.run(session.key, () => this.#turn(agent, this.#deps.sessions.get(session.id) ?? session, input));
    this.#deps.onTurnFinished?.(result);
    return result;
  }

  async #turn(agent: AgentEntry, session: SessionRecord, input: InboundChat): Promise<TurnResult> {
    // "/model@faraday_bot x" in a Telegram group is "/model x".
    const [head = "", ...commandArgs] = input.text.trim().split(/\s+/);
    const command = head.toLowerCase().replace(/^(\/[a-z]+)@\w+$/, "$1");
    const bare = commandArgs.length === 0;
    if (command === "/model" && commandArgs.length <= 1) return this.#commandReply(session, agent.id, this.#modelCommand(agent, session, input, commandArgs[0]));
    if (bare && command === "/whoami") return this.#commandReply(session, agent.id, this.#whoami(agent, session, input));
    if (bare && (command === "/new" || command === "/reset")) {
      const fresh = this.#deps.sessions.reset(session);
      return this.#commandReply(fresh, agent.id, "Started a new conversation. I still remember what is in my long-term memory.");
    }
    if (bare && command === "/help") return this.#commandReply(session, agent.id, HELP);
    if (bare && command === "/status") return this.#commandReply(session, agent.id, this.#statusText(agent, session));

    const { sessions, tools, logger } = this.#deps;
    // A turn the process died in the middle of is retried after restart: its message is already
    // the last thing in the transcript, so it is not written twice.
    const last = sessions.lastMessage(session.id);
    // On disk before the model is called (group-committed with other sessions' writes).
    if (!(last?.role === "user" && last.content === input.text)) await sessions.appendDurable(session.id, { role: "user", content: input.text });
    const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 };
    const executed: ExecutedToolCall[] = [];
    const model = input.model ? this.#modelFor({ ...agent, model: input.model }) : this.#modelFor(agent, this.#deps.sessions.modelChoice(session.id));
    if ("error" in model) {
      const reply = this.#redact(model.error.userMessage);
      sessions.append(session.id, { role: "assistant", content: reply });
      return { sessionId: session.id, agentId: agent.id, reply, toolCalls: [], usage, model: null, errorCode: model.error.code };
    }
    const config = this.#config();
    const maxRounds = config?.agents?.defaults?.maxToolRounds ?? DEFAULT_MAX_TOOL_ROUNDS;
    const contextTokens = config?.agents?.defaults?.contextTokens ?? DEFAULT_CONTEXT_TOKENS;
    await this.#deps.beforeTurn?.();
    const access = this.#access(agent, input);
    // The heartbeat: only read-only tools the policy runs without asking are offered, and only they run.
    const readOnly = (tool: ToolDescriptor) => tool.annotations?.readOnlyHint === true && tools.judge(tool.name, {})?.verdict.decision === "auto";
    const offered = new Set<string>();
    // Computed once per turn: every round of this turn sends the same bytes.
    const turnContext = renderTurnContext({
      now: this.#deps.now?.() ?? new Date(),
      timeZone: resolveTimeZone(input.senderTimezone, agent.timezone, config?.agents?.defaults?.timezone),
      channel: input.channel,
      chatType: input.chatType ?? "dm",
      ...(input.senderName ? { senderName: input.senderName } : {}),
      senderRole: senderRoleOf(input),
    });
    const context = {
      agentId: agent.id, sessionId: session.id, channel: input.channel, chat: input.chat, sender: senderId(input), access,
      ...(input.onNotice ? { notify: input.onNotice } : {}),
      ...(input.onPhoneNeeded ? { askForPhone: input.onPhoneNeeded } : {}),
    };
    let compactedForError = false;
    let lastModel: string | null = null;

    for (let round = 0; ; round++) {
      // Per round: tools find_tools found in the last round are offered in this one.
      const forModel = tools.forModel(session.id, round, access);
      const toolDefinitions = input.readOnlyTools ? forModel.filter(readOnly) : forModel;
      for (const tool of toolDefinitions) offered.add(tool.name);
      const system = await this.#systemPrompt(agent, toolDefinitions.map((tool) => tool.name));
      const window = await this.#window(session.id, Math.max(1_000, contextTokens - estimateTokens(system) - 4_096), model.client);
      let response: ModelResponse;
      try {
        response = await model.client.complete({
          system: window.summary ? `${system}\n\n## Earlier in this conversation (summary)\n${window.summary}` : system,
          messages: withTurnContext(window.messages, turnContext),
          tools: toolDefinitions,
          ...(input.onDelta ? { onTextDelta: input.onDelta } : {}),
        });
      } catch (error) {
        if (error instanceof ModelError && error.code === "MODEL_CONTEXT_TOO_LONG" && !compactedForError) {
          compactedForError = true;
          await this.#window(session.id, contextTokens, model.client, true);
          continue;
        }
        const reply = error instanceof ModelError ? error.userMessage : "Something went wrong while I was thinking; please try again.";
        if (!(error instanceof ModelError)) logger.error({ err: error, sessionId: session.id }, "agent turn failed");
        else logger.warn({ code: error.code, sessionId: session.id }, "model call failed; told the user");
        sessions.append(session.id, { role: "assistant", content: reply });
        return { sessionId: session.id, agentId: agent.id, reply, toolCalls: executed.map(publicCall), usage, model: lastModel, errorCode: error instanceof ModelError ? error.code : "INTERNAL" };
      }
      lastModel = response.model;
      addUsage(usage, response.usage);
      // Usage and the reply in one transaction, on disk before anything acts on the reply.
      await sessions.appendReplyDurable(session.id, response.usage, response.model, { role: "assistant", content: response.text, ...(response.toolCalls.length ? { toolCalls: response.toolCalls } : {}) });
      if (response.toolCalls.length === 0) {
        return { sessionId: session.id, agentId: agent.id, reply: response.text, toolCalls: executed.map(publicCall), usage, model: lastModel };
      }
      // Every call is answered, in parallel, in the order the model made them.
      const results = await Promise.all(response.toolCalls.map((call) => offered.has(call.name) || !input.readOnlyTools
        ? tools.execute(call.name, call.arguments, context)
        : Promise.resolve<ExecutedToolCall>({ name: call.name, arguments: call.arguments, decision: "deny", isError: true, result: `${call.name} is not available here: only read-only tools run in this turn.` })));
      response.toolCalls.forEach((call, index) => {
        const result = results[index]!;
        executed.push(result);
        sessions.append(session.id, { role: "tool", toolCallId: call.id, name: call.name, content: result.result, isError: result.isError });
      });
      if (round + 1 >= maxRounds) {
        const reply = `${response.text ? `${response.text}\n\n` : ""}I stopped after ${maxRounds} rounds of tool calls for this message. Say "continue" if you want me to go on.`;
        sessions.append(session.id, { role: "assistant", content: reply });
        return { sessionId: session.id, agentId: agent.id, reply, toolCalls: executed.map(publicCall), usage, model: lastModel };
      }
    }
  }

  /** What this turn may do with tools: the agent's allowlist and pins, the verified sender, the owners to ask. */
  #access(agent: AgentEntry, input: InboundChat): ToolAccess {
    const sender: VerifiedSender = typeof input.sender === "object"
      ? input.sender
      : { id: senderId(input), channel: input.channel, role: "owner" };
    // Memory is per agent and memory_search reads every transcript: a customer gets it only
    // when the agent's allowlist says so.
    const deny = [...(agent.tools?.deny ?? []), ...(sender.role === "customer" && !agent.tools?.allow ? ["memory_*"] : [])];
    return {
      sender,
      ...(agent.tools?.allow ? { allow: agent.tools.allow } : {}),
      ...(deny.length ? { deny } : {}),
      ...(agent.toolArgs ? { pins: agent.toolArgs } : {}),
      approvers: input.approvers ?? [],
    };
  }

  #commandReply(session: SessionRecord, agentId: string, reply: string): TurnResult {
    return { sessionId: session.id, agentId, reply, toolCalls: [], usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 }, model: null };
  }

  /** `/model`: show the session's model; with a ref, switch it (owners only); `default` clears the choice. */
  #modelCommand(agent: AgentEntry, session: SessionRecord, input: InboundChat, requested: string | undefined): string {
    const choice = this.#deps.sessions.modelChoice(session.id);
    if (requested === undefined) {
      const model = this.#modelFor(agent, choice);
      const current = this.#redact("error" in model ? `none (${model.error.userMessage})` : model.refs.join(" → "));
      return `Model: ${current}${choice ? " (chosen for this conversation with /model)" : " (the agent's default)"}.\nSwitch with /model provider/model, e.g. /model anthropic/claude-sonnet-5-5; /model default goes back.`;
    }
    if (senderRoleOf(input) !== "owner") return "Only the owner can switch the model.";
    if (requested.toLowerCase() === "default" || requested.toLowerCase() === "reset") {
      this.#deps.sessions.setModelChoice(session.id, null);
      const model = this.#modelFor(agent);
      return `This conversation is back on the agent's default model: ${this.#redact("error" in model ? "none" : model.refs.join(" → "))}.`;
    }
    if (!/^[A-Za-z0-9._-]+\/[^\s]+$/.test(requested)) return `"${requested}" is not a model reference; write provider/model, e.g. /model openai/gpt-5.`;
    const model = this.#modelFor(agent, requested);
    if ("error" in model) return `Cannot switch to ${requested}: ${this.#redact(model.error.userMessage)}`;
    this.#deps.sessions.setModelChoice(session.id, requested);
    return `This conversation now uses ${model.refs[0]}. /model default goes back to the agent's model.`;
  }

  /** `/whoami`: the sender's role and ids as the gateway sees them. */
  #whoami(agent: AgentEntry, session: SessionRecord, input: InboundChat): string {
    return [
      `You are ${input.senderName ? `${input.senderName}, ` : ""}role: ${senderRoleOf(input)}.`,
      `Channel: ${input.channel}${input.account ? ` (account ${input.account})` : ""}, ${input.chatType === "group" ? "group chat" : "direct message"} ${input.chat}`,
      `Your id: ${input.sender ?? input.chat}`,
      `Agent: ${agent.id}; session: ${session.id}`,
    ].join("\n");
  }

  #statusText(agent: { id: string }, session: SessionRecord): string {
    const model = this.#modelFor(agent, this.#deps.sessions.modelChoice(session.id));
    const modelText = this.#redact("error" in model ? `none (${model.error.userMessage})` : model.refs.join(" → "));
    const today = this.#deps.sessions.usageToday();
    return [
      `Agent: ${agent.id}`,
      `Model: ${modelText}`,
      `Session: ${session.id} — ${session.messageCount} messages${session.summary ? " (older ones summarised)" : ""}`,
      `Session usage: ${session.usage.inputTokens} in / ${session.usage.outputTokens} out tokens over ${session.usage.turns} model calls`,
      `Today: ${today.inputTokens} in / ${today.outputTokens} out tokens, ${today.turns} model calls`,
    ].join("\n");
  }

  #models = new Map<string, ReturnType<typeof createResilientModel>>();
  /** Ids of the provider clients, so a new key (a new client for the same ref) builds a new model. */
  readonly #clientIds = new WeakMap<object, number>();
  #nextClientId = 0;

  /** The agent's model (or the session's `/model` choice, with no fallbacks), ready to call. */
  #modelFor(agent: { id: string; model?: unknown }, sessionChoice?: string):
    | { client: ReturnType<typeof createResilientModel>; refs: string[] }
    | { error: ModelError } {
    const config = this.#config();
    const modelRef = (sessionChoice ?? agent.model ?? config?.agents?.defaults?.model) as Parameters<typeof resolveModelCandidates>[0]["modelRef"];
    const resolved = resolveModelCandidates({ modelRef, providers: config?.models?.providers, env: this.#deps.env });
    if ("error" in resolved) return { error: resolved.error };
    const refs = resolved.candidates.map((candidate) => candidate.ref);
    const clientId = (client: object) => {
      if (!this.#clientIds.has(client)) this.#clientIds.set(client, this.#nextClientId++);
      return this.#clientIds.get(client);
    };
    const key = resolved.candidates.map((candidate) => `${candidate.ref}#${clientId(candidate.client)}`).join("|");
    let client = this.#models.get(key);
    if (!client) {
      client = createResilientModel({ candidates: resolved.candidates, slots: this.slots, ...(this.#deps.sleep ? { sleep: this.#deps.sleep } : {}) });
      this.#models.set(key, client);
    }
    return { client, refs };
  }

  /** The last prompt built per agent and what it was built from: most turns reuse it. */
  readonly #prompts = new Map<string, { inputs: readonly unknown[]; prompt: string }>();

  async #systemPrompt(agent: AgentEntry, toolNames: string[]): Promise<string> {
    const { files } = this.#deps;
    const [instructionsFile, memory] = await Promise.all([files.readInstructions(agent.id), files.memoryForPrompt(agent.id)]);
    const unavailable = this.#deps.tools.unavailable();
    const inputs = [agent.instructions, instructionsFile, memory, ...toolNames, "|", ...unavailable.flatMap((source) => [source.name, source.reason])];
    const cached = this.#prompts.get(agent.id);
    if (cached && cached.inputs.length === inputs.length && cached.inputs.every((value, index) => value === inputs[index])) return cached.prompt;
    const parts = [
      agent.instructions?.trim() || instructionsFile.trim() || "You are a helpful assistant. Answer clearly and briefly.",
    ];
    if (agent.instructions?.trim() && instructionsFile.trim()) parts.push(instructionsFile.trim());
    parts.push(TURN_CONTEXT_GUIDE);
    parts.push(`## Long-term memory (MEMORY.md)\n${memory || "(empty — use memory_write to remember things that matter)"}`);
    if (toolNames.length) parts.push(`## Tools\nYou can call: ${toolNames.join(", ")}. Some calls need the user's approval; the gateway asks them itself — never treat your own text as approval.`);
    if (unavailable.length) {
      parts.push(`## Unavailable right now\n${unavailable.map((source) => `- ${source.name} tools: ${source.reason}`).join("\n")}\nTell the user if they ask for something that needs them.`);
    }
    const prompt = parts.join("\n\n");
    this.#prompts.set(agent.id, { inputs, prompt });
    return prompt;
  }


  /**
   * The messages to send: everything after the stored summary, compacted first when over
   * `budget` (older turns summarised by the model; tool calls stay with their results).
   */
  async #window(sessionId: string, budget: number, model: ReturnType<typeof createResilientModel>, force = false): Promise<{ summary: string | null; messages: ChatMessage[] }> {
    const { sessions, logger } = this.#deps;
    const session = sessions.get(sessionId)!;
    const history = sessions.messagesAfter(sessionId, session.summaryThrough);
    const plan = planCompaction(history, budget, force);
    if (plan.older.length === 0) return { summary: session.summary, messages: history.map(stripStored) };
    const through = plan.older.at(-1)!.seq;
    let summary: string;
    try {
      const response = await model.complete({
        system: "You summarise conversations for an assistant's memory. Keep facts, decisions, names, numbers, open tasks and tool outcomes. Be concise.",
        messages: [{
          role: "user",
          content: `${session.summary ? `Summary so far:\n${session.summary}\n\n` : ""}Conversation to add:\n${renderForSummary(plan.older)}\n\nWrite the updated summary.`,
        }],
        tools: [],
      });
      sessions.recordUsage(sessionId, response.usage, response.model);
      summary = response.text.trim() || session.summary || "";
    } catch (error) {
      logger.warn({ sessionId, err: (error as Error).message }, "compaction summary failed; older turns left out of the window without a summary");
      summary = session.summary ?? "";
    }
    sessions.setSummary(sessionId, summary, through);
    logger.info({ sessionId, summarisedMessages: plan.older.length, keptMessages: plan.kept.length }, "session compacted");
    return { summary, messages: plan.kept.map(stripStored) };
  }
}

/**
 * The window with the turn context on the turn's own message (the last user message) and any
 * look-alike tags in people's text defused. Earlier messages go out as they were stored, so the
 * history before the turn's message stays byte-identical from turn to turn.
 */
export function withTurnContext(messages: readonly ChatMessage[], context: string): ChatMessage[] {
  let last = -1;
  for (let index = messages.length - 1; index >= 0; index--) {
    if (messages[index]!.role === "user") {
      last = index;
      break;
    }
  }
  return messages.map((message, index) => {
    if (message.role !== "user") return message;
    const content = defuseTurnContext(message.content);
    return index === last ? { role: "user", content, context } : content === message.content ? message : { role: "user", content };
  });
}

function stripStored(message: ChatMessage & { seq?: number; createdAt?: string }): ChatMessage {
  if (message.role === "tool") return { role: "tool", toolCallId: message.toolCallId, name: message.name, content: message.content, ...(message.isError ? { isError: true } : {}) };
  if (message.role === "assistant") return { role: "assistant", content: message.content, ...(message.toolCalls?.length ? { toolCalls: message.toolCalls } : {}) };
  return { role: "user", content: message.content };
}

/** The platform id of the turn's sender (the chat when none is given). */
function senderId(input: Pick<InboundChat, "sender" | "chat">): string {
  if (input.sender === undefined) return input.chat;
  return typeof input.sender === "string" ? input.sender : input.sender.id;
}

/** A plain id (web chat, CLI) is the token holder: the owner. */
function senderRole(input: Pick<InboundChat, "sender">): "owner" | "customer" {
  return typeof input.sender === "object" ? input.sender.role : "owner";
}

function publicCall(call: ExecutedToolCall) {
  return { name: call.name, arguments: call.arguments, result: call.result, decision: call.decision, isError: call.isError };
}
