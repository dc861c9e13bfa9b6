import { randomUUID } from "node:crypto";
import type { ConfigService } from "../gateway/config-service.ts";
import type { FaradayConfig } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import type { Logger } from "../logging/index.ts";
import type { ApprovalBroker, ExecutedToolCall, ToolCatalog, ToolNotice } from "../tools/index.ts";
import { estimateTokens, planCompaction, renderForSummary } from "./context-window.ts";
import type { AgentFiles } from "./memory/agent-files.ts";
import type { ChatMessage, ModelResponse, ModelUsage } from "./models/model-client.ts";
import { createResilientModel, ModelError, resolveModelCandidates } from "./models/index.ts";
import { SessionLanes } from "./sessions/session-lanes.ts";
import type { SessionRecord, SessionStore } from "./sessions/session-store.ts";

/** An entry of `agents.list` (or the implicit `main`). */
type AgentEntry = { readonly id: string; readonly model?: unknown; readonly instructions?: string; readonly name?: string };

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
  /** Who wrote it (platform user id; "web" for the web chat). Only they can approve its tool calls. */
  readonly sender?: string;
  /** Called with each text fragment as the model streams. */
  readonly onDelta?: (text: string) => void;
  /** Called when the gateway must tell the chat something mid-turn (an approval request). */
  readonly onNotice?: (notice: ToolNotice) => void;
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
}

const HELP = [
  "Commands:",
  "/new or /reset — start a fresh conversation (long-term memory is kept)",
  "/status — agent, model, session size and token usage",
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
  readonly lanes: SessionLanes;

  constructor(deps: AgentRuntimeDeps) {
    this.#deps = deps;
    this.lanes = new SessionLanes(this.#config()?.agents?.defaults?.maxConcurrent ?? DEFAULT_MAX_CONCURRENT);
    deps.config.on("config-changed", () => {
      this.lanes.maxConcurrent = this.#config()?.agents?.defaults?.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
    });
  }

  #config(): FaradayConfig | undefined {
    const state = this.#deps.config.current();
    return state.state === "valid" ? state.config : undefined;
  }

  /** The agent for a chat: explicit id, else the first matching binding, else the default agent. */
  resolveAgent(input: { agentId?: string; channel: string; account?: string; chat: string }): AgentEntry {
    const config = this.#config();
    const list = config?.agents?.list ?? [];
    const find = (id: string): AgentEntry | undefined => list.find((agent) => agent.id === id) ?? (list.length === 0 && id === "main" ? { id: "main" } : undefined);
    if (input.agentId) {
      const agent = find(input.agentId);
      if (!agent) throw new FaradayError("AGENT_NOT_FOUND", `no agent "${input.agentId}"; agents are ${list.map((entry) => entry.id).join(", ") || "main"}`);
      return agent;
    }
    const binding = config?.bindings?.find((candidate) =>
      candidate.match.channel === input.channel &&
      (candidate.match.account === undefined || candidate.match.account === input.account) &&
      (candidate.match.chat === undefined || String(candidate.match.chat) === input.chat));
    if (binding) {
      const bound = find(binding.agentId);
      if (bound) return bound;
    }
    return list.find((agent) => agent.default) ?? list[0] ?? { id: "main" };
  }

  #sessionFor(agentId: string, input: Pick<InboundChat, "sessionId" | "channel" | "chat">): SessionRecord {
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
   * If `text` is this sender's YES/NO to a pending approval in the chat's session, decide it and
   * return the acknowledgement; otherwise undefined. Channels call this before queueing, since
   * the turn that asked is still holding the chat's place in line.
   */
  answerApproval(input: { channel: string; chat: string; sender: string; text: string; account?: string }): string | undefined {
    if (!this.#deps.approvals?.pending().length) return undefined;
    const agent = this.resolveAgent(input);
    const session = this.#sessionFor(agent.id, input);
    return this.#answerApproval(session.id, input.sender, input.text);
  }

  #answerApproval(sessionId: string, sender: string, text: string): string | undefined {
    const answered = this.#deps.approvals?.answerFromChat(sessionId, sender, text);
    if (!answered) return undefined;
    return answered.status === "approved" ? `Approved — running ${answered.tool}.` : `Cancelled — ${answered.tool} will not run.`;
  }

  /** Handle one message. Resolves when the reply is ready (and already on disk). */
  async handle(input: InboundChat): Promise<TurnResult> {
    const agent = this.resolveAgent(input);
    const session = this.#sessionFor(agent.id, input);
    // A YES/NO answering a pending approval is handled here, outside the lane: the turn that
    // asked is still running in it, waiting for exactly this answer.
    const acknowledgement = this.#answerApproval(session.id, input.sender ?? input.chat, input.text);
    if (acknowledgement) return this.#commandReply(session, agent.id, acknowledgement);
    // Re-read inside the lane: an earlier turn may have compacted or counted messages meanwhile.
    const result = await this.lanes.run(session.key, () => this.#turn(agent, this.#deps.sessions.get(session.id) ?? session, input));
    this.#deps.onTurnFinished?.(result);
    return result;
  }

  async #turn(agent: AgentEntry, session: SessionRecord, input: InboundChat): Promise<TurnResult> {
    const command = input.text.trim().toLowerCase();
    if (command === "/new" || command === "/reset") {
      const fresh = this.#deps.sessions.reset(session);
      return this.#commandReply(fresh, agent.id, "Started a new conversation. I still remember what is in my long-term memory.");
    }
    if (command === "/help") return this.#commandReply(session, agent.id, HELP);
    if (command === "/status") return this.#commandReply(session, agent.id, this.#statusText(agent, session));

    const { sessions, tools, logger } = this.#deps;
    // A turn the process died in the middle of is retried after restart: its message is already
    // the last thing in the transcript, so it is not written twice.
    const last = sessions.lastMessage(session.id);
    // On disk before the model is called (group-committed with other sessions' writes).
    if (!(last?.role === "user" && last.content === input.text)) await sessions.appendDurable(session.id, { role: "user", content: input.text });
    const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 };
    const executed: ExecutedToolCall[] = [];
    const model = this.#modelFor(agent);
    if ("error" in model) {
      const reply = model.error.userMessage;
      sessions.append(session.id, { role: "assistant", content: reply });
      return { sessionId: session.id, agentId: agent.id, reply, toolCalls: [], usage, model: null, errorCode: model.error.code };
    }
    const config = this.#config();
    const maxRounds = config?.agents?.defaults?.maxToolRounds ?? DEFAULT_MAX_TOOL_ROUNDS;
    const contextTokens = config?.agents?.defaults?.contextTokens ?? DEFAULT_CONTEXT_TOKENS;
    await this.#deps.beforeTurn?.();
    const toolDefinitions = tools.list();
    const context = {
      agentId: agent.id, sessionId: session.id, channel: input.channel, chat: input.chat, sender: input.sender ?? input.chat,
      ...(input.onNotice ? { notify: input.onNotice } : {}),
    };
    let compactedForError = false;
    let lastModel: string | null = null;

    for (let round = 0; ; round++) {
      const system = await this.#systemPrompt(agent, toolDefinitions.map((tool) => tool.name));
      const window = await this.#window(session.id, Math.max(1_000, contextTokens - estimateTokens(system) - 4_096), model.client);
      let response: ModelResponse;
      try {
        response = await this.lanes.withSlot(() => model.client.complete({
          system: window.summary ? `${system}\n\n## Earlier in this conversation (summary)\n${window.summary}` : system,
          messages: window.messages,
          tools: toolDefinitions,
          ...(input.onDelta ? { onTextDelta: input.onDelta } : {}),
        }));
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
      const results = await Promise.all(response.toolCalls.map((call) => tools.execute(call.name, call.arguments, context)));
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

  #commandReply(session: SessionRecord, agentId: string, reply: string): TurnResult {
    return { sessionId: session.id, agentId, reply, toolCalls: [], usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 }, model: null };
  }

  #statusText(agent: { id: string }, session: SessionRecord): string {
    const model = this.#modelFor(agent);
    const modelText = "error" in model ? `none (${model.error.userMessage})` : model.refs.join(" → ");
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

  #modelFor(agent: { id: string; model?: unknown }):
    | { client: ReturnType<typeof createResilientModel>; refs: string[] }
    | { error: ModelError } {
    const config = this.#config();
    const modelRef = (agent.model ?? config?.agents?.defaults?.model) as Parameters<typeof resolveModelCandidates>[0]["modelRef"];
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
      client = createResilientModel({ candidates: resolved.candidates, ...(this.#deps.sleep ? { sleep: this.#deps.sleep } : {}) });
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
      const response = await this.lanes.withSlot(() => model.complete({
        system: "You summarise conversations for an assistant's memory. Keep facts, decisions, names, numbers, open tasks and tool outcomes. Be concise.",
        messages: [{
          role: "user",
          content: `${session.summary ? `Summary so far:\n${session.summary}\n\n` : ""}Conversation to add:\n${renderForSummary(plan.older)}\n\nWrite the updated summary.`,
        }],
        tools: [],
      }));
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

function stripStored(message: ChatMessage & { seq?: number; createdAt?: string }): ChatMessage {
  if (message.role === "tool") return { role: "tool", toolCallId: message.toolCallId, name: message.name, content: message.content, ...(message.isError ? { isError: true } : {}) };
  if (message.role === "assistant") return { role: "assistant", content: message.content, ...(message.toolCalls?.length ? { toolCalls: message.toolCalls } : {}) };
  return { role: "user", content: message.content };
}

function publicCall(call: ExecutedToolCall) {
  return { name: call.name, arguments: call.arguments, result: call.result, decision: call.decision, isError: call.isError };
}
