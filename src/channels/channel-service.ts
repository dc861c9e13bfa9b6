import type { FaradayConfig } from "../config/index.ts";
import type { ComponentRegistry } from "../gateway/components.ts";
import type { Logger } from "../logging/index.ts";
import type { Database } from "../state/index.ts";
import type { ApprovalBroker, ToolNotice } from "../tools/index.ts";
import type { AgentRuntime } from "../agent/agent-runtime.ts";
import { DISK_FULL_REPLY, isDiskFull } from "../state/index.ts";
import { AccessPolicy } from "./access-policy.ts";
import type { ChannelAdapter, InboundAction, InboundMessage } from "./channel-adapter.ts";
import { ChannelSupervisor, type SupervisorOptions } from "./channel-supervisor.ts";
import { IngressStore, type IngressRow } from "./ingress-store.ts";
import { splitMessage } from "./split-message.ts";

const TYPING_REFRESH_MS = 4_000;
const SEND_ATTEMPTS = 3;

export interface ChannelServiceDeps {
  readonly database: Database;
  readonly runtime: AgentRuntime;
  readonly approvals: ApprovalBroker;
  readonly components: ComponentRegistry;
  readonly logger: Logger;
  readonly config: () => FaradayConfig | undefined;
  readonly supervisor?: SupervisorOptions;
  /** Where a message that could not be stored is reported (a full disk turns /readyz 503). */
  readonly storage?: { report(error: unknown, what: string): string };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Channels, end to end: each adapter under its own supervisor; every inbound message stored
 * before it is acknowledged, checked against the access policy, answered by the agent in order
 * per chat, and sent back split to the platform's limit with typing while the turn runs.
 */
export class ChannelService {
  readonly #deps: ChannelServiceDeps;
  readonly ingress: IngressStore;
  readonly access: AccessPolicy;
  readonly #supervisors = new Map<string, ChannelSupervisor>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #pruneTimer: NodeJS.Timeout;
  #stopping = false;

  constructor(deps: ChannelServiceDeps) {
    this.#deps = deps;
    this.ingress = new IngressStore(deps.database);
    this.access = new AccessPolicy(deps.database);
    const prune = () => {
      try {
        this.ingress.prune();
      } catch (error) {
        // A full disk (a DELETE needs room in the WAL too): pruning waits for the next day.
        deps.logger.warn({ err: error }, "could not prune old channel messages; trying again tomorrow");
      }
    };
    prune();
    this.#pruneTimer = setInterval(prune, 86_400_000);
    this.#pruneTimer.unref();
  }

  #channelConfig(channel: string) {
    const channels = this.#deps.config()?.channels as Record<string, NonNullable<FaradayConfig["channels"]>["telegram"]> | undefined;
    return channels?.[channel];
  }

  /** Start an adapter under supervision. */
  add(adapter: ChannelAdapter): void {
    const supervisor = new ChannelSupervisor(adapter, {
      receive: (message) => this.#receive(message),
      action: (action) => this.#action(action),
    }, this.#deps.components, this.#deps.logger, this.#deps.supervisor);
    this.#supervisors.set(adapter.name, supervisor);
    supervisor.start();
  }

  /** Report a channel that is configured but cannot run (e.g. no token). */
  reportUnavailable(name: string, state: "failed" | "disabled", reason: string): void {
    this.#deps.components.set(`channel:${name}`, { state, reason, ready: state === "disabled" });
  }

  adapter(name: string): ChannelAdapter | undefined {
    return this.#supervisors.get(name)?.adapter;
  }

  /** Restart one channel alone (new link, new token, "reconnect" on the dashboard). */
  async restart(name: string): Promise<boolean> {
    const supervisor = this.#supervisors.get(name);
    if (!supervisor || this.#stopping) return false;
    await supervisor.restart();
    return true;
  }

  /** Stop one channel and report why, without removing it (it can be restarted). */
  async halt(name: string, state: "logged_out" | "disabled" | "failed", reason: string): Promise<void> {
    await this.#supervisors.get(name)?.halt(state, reason);
  }

  /** Did this chat write to us? Adapters that must never start a conversation ask this. */
  knownChat(channel: string, chat: string): boolean {
    return this.ingress.hasChat(channel, chat);
  }

  states(): Array<{ name: string; state: string; reason: string }> {
    return [...this.#supervisors.values()].map((supervisor) => ({ name: supervisor.adapter.name, ...supervisor.state }));
  }

  /** Finish what a previous run stored but did not answer or did not finish sending. */
  resumeUnfinished(): number {
    const rows = this.ingress.unfinished();
    for (const row of rows) this.#enqueue(row);
    if (rows.length) this.#deps.logger.info({ messages: rows.length }, "answering messages stored before the last stop");
    return rows.length;
  }

  async #receive(message: InboundMessage): Promise<void> {
    let row: IngressRow | undefined;
    try {
      row = this.ingress.add(message);
    } catch (error) {
      // Not stored, so not acknowledged (the adapter restarts; Telegram delivers it again).
      // On a full disk the sender is told once, in one sentence, rather than left in silence.
      this.#deps.storage?.report(error, `a ${message.channel} message`);
      if (isDiskFull(error)) await this.#tellDiskFull(message);
      throw error;
    }
    if (!row) return; // a redelivery: already stored, already being handled
    if (this.#stopping) return; // stored: answered after the restart
    // A YES/NO answering this sender's pending approval must not queue behind the paused turn.
    const answered = this.#deps.runtime.answerApproval({ channel: message.channel, chat: message.chat, sender: message.sender, text: message.text });
    if (answered) {
      this.ingress.answered(row.id, answered);
      this.#enqueue({ ...row, status: "answered", reply: answered }, true);
      return;
    }
    this.#enqueue(row);
  }

  /** Chats already told that the disk is full, until it has room again. */
  readonly #toldDiskFull = new Set<string>();
  /** Stored messages whose turn could not be saved on a full disk, answered once there is room. */
  readonly #waitingForSpace = new Map<number, IngressRow>();

  /** The disk has room again: answer the messages that waited for it. Returns how many. */
  retryAfterDiskFull(): number {
    this.#toldDiskFull.clear();
    const rows = [...this.#waitingForSpace.values()];
    this.#waitingForSpace.clear();
    if (this.#stopping) return 0;
    for (const row of rows) this.#enqueue(row);
    if (rows.length) this.#deps.logger.info({ messages: rows.length }, "answering the messages that waited for disk space");
    return rows.length;
  }

  async #tellDiskFull(message: InboundMessage): Promise<void> {
    const key = `${message.channel}:${message.chat}`;
    const adapter = this.adapter(message.channel);
    if (!adapter || this.#toldDiskFull.has(key) || this.#toldDiskFull.size >= 1_000) return;
    // Only a sender the agent would answer (no sentence to strangers, or to group chatter).
    try {
      if (!this.access.decide(message, this.#channelConfig(message.channel)).allow) return;
    } catch {
      return; // a pairing request could not be written either
    }
    this.#toldDiskFull.add(key);
    this.#deps.logger.error({ code: "DISK_FULL", channel: message.channel, chat: message.chat }, "the disk is full: told the chat, once, that it cannot be answered now");
    await adapter.sendText(message.chat, DISK_FULL_REPLY).catch((error: unknown) => this.#deps.logger.warn({ err: error }, "could not tell the chat that the disk is full"));
  }

  /** In order per chat; across chats as concurrent as the agent allows. */
  #enqueue(row: IngressRow, outOfBand = false): void {
    const key = outOfBand ? `${row.message.channel}:${row.message.chat}:oob:${row.id}` : `${row.message.channel}:${row.message.chat}`;
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.#process(row)).catch((error: unknown) => {
      this.#deps.logger.error({ err: error, channel: row.message.channel, ingressId: row.id }, "message handling failed; it stays stored and is retried at the next start");
    });
    this.#chains.set(key, next);
    void next.then(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }

  async #process(row: IngressRow): Promise<void> {
    const { message } = row;
    const adapter = this.adapter(message.channel);
    let reply = row.reply;
    if (row.status === "pending") {
      const verdict = this.access.decide(message, this.#channelConfig(message.channel));
      if (!verdict.allow) {
        this.#deps.logger.info({ channel: message.channel, chat: message.chat, reason: verdict.reason }, "message not for the agent");
        if (!verdict.reply) {
          this.ingress.finish(row.id, "ignored");
          return;
        }
        reply = verdict.reply;
      } else {
        const answer = await this.#answer(message, adapter);
        if (answer.errorCode === "DISK_FULL") {
          // Nothing of the turn could be saved: say so (once per chat) and answer it properly
          // once there is space (retryAfterDiskFull), or at the next start.
          if (this.#waitingForSpace.size < 10_000) this.#waitingForSpace.set(row.id, row);
          await this.#tellDiskFull(message);
          return;
        }
        reply = answer.reply;
      }
      this.ingress.answered(row.id, reply);
    }
    if (!adapter) throw new Error(`channel ${message.channel} is not running; the reply stays stored`);
    await this.#send(row.id, adapter, message.chat, reply ?? "", row.chunksSent);
    this.ingress.finish(row.id, "done");
  }

  async #answer(message: InboundMessage, adapter: ChannelAdapter | undefined): Promise<{ reply: string; errorCode?: string }> {
    let typing: NodeJS.Timeout | undefined;
    const refresh = () => void adapter?.sendTyping(message.chat).catch(() => {});
    if (adapter) {
      refresh();
      typing = setInterval(refresh, TYPING_REFRESH_MS);
    }
    try {
      const result = await this.#deps.runtime.handle({
        channel: message.channel,
        account: message.account,
        chat: message.chat,
        sender: message.sender,
        text: message.text,
        onNotice: (notice) => void this.#sendNotice(adapter, message.chat, notice),
      });
      return { reply: result.reply || "(no reply)", ...(result.errorCode ? { errorCode: result.errorCode } : {}) };
    } finally {
      clearInterval(typing);
    }
  }

  async #sendNotice(adapter: ChannelAdapter | undefined, chat: string, notice: ToolNotice): Promise<void> {
    if (!adapter) return;
    const id = notice.approval.id;
    await this.#sendWithRetry(adapter, chat, notice.text, {
      buttons: [{ label: "Yes, go ahead", data: `approval:yes:${id}` }, { label: "No", data: `approval:no:${id}` }],
    }).catch((error: unknown) => this.#deps.logger.error({ err: error }, "could not send the approval prompt"));
  }

  async #action(action: InboundAction): Promise<void> {
    const match = /^approval:(yes|no):(.+)$/.exec(action.data);
    if (!match) return action.acknowledge();
    const record = this.#deps.approvals.get(match[2]!);
    if (!record || record.status !== "pending") return action.acknowledge("This request is no longer waiting.");
    if (record.requester !== action.sender || record.channel !== action.channel) return action.acknowledge("Only the person who asked can answer this.");
    this.#deps.approvals.decide(record.id, match[1] === "yes", `user:${action.sender}`);
    await action.acknowledge(match[1] === "yes" ? "Approved" : "Cancelled");
  }

  async #send(id: number, adapter: ChannelAdapter, chat: string, text: string, alreadySent: number): Promise<void> {
    const chunks = splitMessage(text, adapter.textLimit);
    for (let index = alreadySent; index < chunks.length; index++) {
      await this.#sendWithRetry(adapter, chat, chunks[index]!);
      this.ingress.chunkSent(id, index + 1);
    }
  }

  async #sendWithRetry(adapter: ChannelAdapter, chat: string, text: string, options?: Parameters<ChannelAdapter["sendText"]>[2]): Promise<string> {
    let lastError: unknown;
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
      try {
        return await adapter.sendText(chat, text, options);
      } catch (error) {
        lastError = error;
        if (this.#stopping) break;
        await sleep(500 * 2 ** attempt);
      }
    }
    throw lastError;
  }

  /** Tell an approved person they are in. */
  async notifyApproved(channel: string, chat: string): Promise<void> {
    const adapter = this.adapter(channel);
    if (adapter) await this.#sendWithRetry(adapter, chat, "You're approved — say hello!").catch(() => {});
  }

  async stop(): Promise<void> {
    // Refuse new messages (they stay unacknowledged on the platform and come back after the
    // restart), let the turns in flight finish and send, then disconnect.
    this.#stopping = true;
    clearInterval(this.#pruneTimer);
    await Promise.allSettled([...this.#chains.values()]);
    await Promise.all([...this.#supervisors.values()].map((supervisor) => supervisor.stop()));
  }
}
