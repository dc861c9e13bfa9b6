import type { FaradayConfig } from "../config/index.ts";
import { isFaradayError } from "../errors/index.ts";
import type { ComponentRegistry } from "../gateway/components.ts";
import type { Logger } from "../logging/index.ts";
import type { Database } from "../state/index.ts";
import type { ApprovalBroker, ToolNotice } from "../tools/index.ts";
import type { AgentRuntime } from "../agent/agent-runtime.ts";
import { DISK_FULL_REPLY, isDiskFull } from "../state/index.ts";
import { AccessPolicy } from "./access-policy.ts";
import type { ChannelAdapter, InboundAction, InboundMessage } from "./channel-adapter.ts";
import { ChannelSupervisor, type SupervisorOptions } from "./channel-supervisor.ts";
import { IngressStore, OUTBOUND_SENDER, type IngressRow } from "./ingress-store.ts";
import { PeopleDirectory } from "./people-directory.ts";
import { splitMessage } from "./split-message.ts";

const TYPING_REFRESH_MS = 4_000;
const SEND_ATTEMPTS = 3;

/**
 * The timers the service sets: the pause between quick send retries and a resend the platform
 * asked for later (Telegram's 429 `retry_after`). Injectable so a test can move time by hand.
 */
export interface ServiceClock {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ServiceClock = {
  setTimeout: (run, ms) => setTimeout(run, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** When the platform said to send again (a FaradayError `CHANNEL_RATE_LIMITED` carries it), in ms. */
function retryAfterMs(error: unknown): number | undefined {
  if (!isFaradayError(error, "CHANNEL_RATE_LIMITED")) return undefined;
  const seconds = error.details?.retryAfterSeconds;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

export interface ChannelServiceDeps {
  readonly database: Database;
  readonly runtime: AgentRuntime;
  readonly approvals: ApprovalBroker;
  readonly components: ComponentRegistry;
  readonly logger: Logger;
  readonly config: () => FaradayConfig | undefined;
  readonly supervisor?: SupervisorOptions;
  readonly clock?: ServiceClock;
  /** Where a message that could not be stored is reported (a full disk turns /readyz 503). */
  readonly storage?: { report(error: unknown, what: string): string };
}

/**
 * Channels, end to end: each adapter under its own supervisor; every inbound message stored
 * before it is acknowledged, checked against the access policy, answered by the agent in order
 * per chat, and sent back split to the platform's limit with typing while the turn runs.
 *
 * A reply that cannot go out stays stored (status `answered`, chunks sent so far) and is sent
 * again without a restart: when its channel next reaches `connected`, or when the platform said
 * to try again (`retry_after`). At start, what a previous run left unfinished is resumed.
 */
export class ChannelService {
  readonly #deps: ChannelServiceDeps;
  readonly ingress: IngressStore;
  readonly access: AccessPolicy;
  /** Owners, their DM chats, shared phone numbers: who is a customer and who answers for them. */
  readonly people: PeopleDirectory;
  readonly #supervisors = new Map<string, ChannelSupervisor>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #pruneTimer: NodeJS.Timeout;
  readonly #clock: ServiceClock;
  /** Rows queued or being handled now: a reconnect must not queue them twice. */
  readonly #queued = new Set<number>();
  /** Rows waiting for the platform's `retry_after` to pass. */
  readonly #resendTimers = new Map<number, unknown>();
  /** How often each channel has reached `connected`: tells a send that failed in flight that it missed one. */
  readonly #connections = new Map<string, number>();
  #stopping = false;

  constructor(deps: ChannelServiceDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? realClock;
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
    this.people = new PeopleDirectory(deps.database, deps.config);
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
      connected: () => this.#reconnected(adapter.name),
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

  /**
   * The channel is (again) connected: send every reply stored for it that is not queued already
   * or waiting for a `retry_after`, oldest first.
   */
  #reconnected(channel: string): void {
    this.#connections.set(channel, (this.#connections.get(channel) ?? 0) + 1);
    if (this.#stopping) return;
    const rows = this.ingress.answeredIn(channel).filter((row) => !this.#queued.has(row.id) && !this.#resendTimers.has(row.id));
    for (const row of rows) this.#enqueue(row);
    if (rows.length) this.#deps.logger.info({ channel, replies: rows.length }, "sending the replies stored while the channel was away");
  }

  #connected(channel: string): boolean {
    return this.#supervisors.get(channel)?.state.state === "connected";
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
    // An owner's clear YES/NO to a customer's call asked in this DM (anything else is an ordinary message).
    const asOwner = this.people.isOwner(message.channel, message.sender)
      ? this.#deps.approvals.answerAsApprover(message.channel, this.people.ownerId(message.channel, message.sender), message.chat, message.text)
      : undefined;
    if (asOwner) {
      const customer = asOwner.requesterName ?? asOwner.requester;
      const reply = asOwner.status === "approved" ? `Approved — running ${asOwner.tool} for ${customer}.` : `Refused — ${asOwner.tool} will not run for ${customer}.`;
      this.ingress.answered(row.id, reply);
      this.#enqueue({ ...row, status: "answered", reply }, true);
      return;
    }
    // A YES/NO answering this sender's pending approval must not queue behind the paused turn.
    const answered = this.#deps.runtime.answerApproval({
      channel: message.channel, chat: message.chat, sender: message.sender, text: message.text, role: this.people.role(message.channel, message.sender),
    });
    if (answered?.askAgain) {
      // Neither yes nor no: the approval is shown again, with its buttons.
      this.ingress.answered(row.id, answered.reply);
      void this.#sendNotice(this.adapter(message.channel), message.chat, answered.askAgain).finally(() => {
        try {
          this.ingress.finish(row.id, "done");
        } catch (error) {
          // A full disk: the row stays answered (re-sent at the next start), never an unhandled rejection.
          this.#deps.storage?.report(error, `a ${message.channel} message`);
          this.#deps.logger.warn({ err: error, ingressId: row.id }, "could not mark a re-asked approval as done");
        }
      });
      return;
    }
    if (answered) {
      this.ingress.answered(row.id, answered.reply);
      this.#enqueue({ ...row, status: "answered", reply: answered.reply }, true);
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
    const { channel } = row.message;
    const key = outOfBand ? `${channel}:${row.message.chat}:oob:${row.id}` : `${channel}:${row.message.chat}`;
    const previous = this.#chains.get(key) ?? Promise.resolve();
    this.#queued.add(row.id);
    let connections = 0;
    const next = previous.then(() => {
      connections = this.#connections.get(channel) ?? 0;
      return this.#process(row);
    }).then(() => {
      this.#queued.delete(row.id);
    }, (error: unknown) => {
      this.#queued.delete(row.id);
      try {
        this.#failed(row.id, channel, error, connections !== (this.#connections.get(channel) ?? 0));
      } catch (problem) {
        this.#deps.logger.error({ err: problem, cause: error, channel, ingressId: row.id }, "message handling failed; it stays stored and is retried at the next start");
      }
    });
    this.#chains.set(key, next);
    void next.then(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }

  /**
   * A row could not be finished. Its reply (if any) is stored; decide when it goes out: after the
   * platform's `retry_after`; at once if the channel reconnected while it was in flight (that
   * reconnect skipped it); otherwise at the channel's next `connected`, or the next start.
   */
  #failed(id: number, channel: string, error: unknown, reconnectedMeanwhile: boolean): void {
    const log = { err: error, channel, ingressId: id };
    const stored = this.ingress.get(id);
    if (!stored || (stored.status !== "pending" && stored.status !== "answered")) return;
    if (this.#stopping) {
      this.#deps.logger.warn(log, "reply not sent before the stop; it stays stored and is sent after the restart");
      return;
    }
    const wait = retryAfterMs(error);
    if (wait !== undefined && stored.status === "answered") {
      this.#deps.logger.warn({ ...log, retryInMs: wait }, "the platform asked to wait before sending; the reply is sent then");
      const timer = this.#clock.setTimeout(() => {
        this.#resendTimers.delete(id);
        const current = this.ingress.get(id);
        if (!this.#stopping && current && current.status === "answered" && !this.#queued.has(id)) this.#enqueue(current);
      }, wait);
      this.#resendTimers.set(id, timer);
      return;
    }
    if (reconnectedMeanwhile && stored.status === "answered" && this.#connected(channel)) {
      this.#enqueue(stored);
      return;
    }
    this.#deps.logger.error(log, stored.status === "answered"
      ? "reply not sent; it stays stored and is sent when the channel next connects (or at the next start)"
      : "message handling failed; it stays stored and is answered at the next start");
  }

  async #process(row: IngressRow): Promise<void> {
    const { message } = row;
    const adapter = this.adapter(message.channel);
    let reply = row.reply;
    if (row.status === "pending") {
      const verdict = this.access.decide(message, this.#channelConfig(message.channel), this.people.isOwner(message.channel, message.sender));
      if (!verdict.allow) {
        this.#deps.logger.info({ channel: message.channel, chat: message.chat, reason: verdict.reason }, "message not for the agent");
        if (!verdict.reply) {
          this.ingress.finish(row.id, "ignored");
          return;
        }
        reply = verdict.reply;
      } else if (message.sharedPhone) {
        this.people.setPhone(message.channel, message.sender, message.sharedPhone);
        reply = `Thanks — I'll use ${message.sharedPhone} as your phone number for bookings.`;
      } else {
        if (message.chatType === "dm" && this.people.isOwner(message.channel, message.sender)) {
          this.people.recordDmChat(message.channel, message.sender, message.chat);
        }
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
    let alreadySent = row.chunksSent;
    const started = message.sender === OUTBOUND_SENDER;
    if (started && row.sendingChunk !== null && row.sendingChunk !== undefined && row.sendingChunk === alreadySent) {
      // A reminder chunk was being handed to the platform when the process died: it may have
      // arrived. Messages the gateway starts are sent at most once, so it is not sent again.
      this.#deps.logger.warn({ channel: message.channel, chat: message.chat, ingressId: row.id, chunk: alreadySent }, "a scheduled message was being sent when the gateway stopped; not sent again (it may not have arrived)");
      alreadySent += 1;
      this.ingress.chunkSent(row.id, alreadySent);
    }
    await this.#send(row.id, adapter, message.chat, reply ?? "", alreadySent, started);
    this.ingress.finish(row.id, "done");
  }

  async #answer(message: InboundMessage, adapter: ChannelAdapter | undefined): Promise<{ reply: string; errorCode?: string }> {
    let typing: NodeJS.Timeout | undefined;
    const refresh = () => void adapter?.sendTyping(message.chat).catch(() => {});
    if (adapter) {
      refresh();
      typing = setInterval(refresh, TYPING_REFRESH_MS);
    }
    // The WhatsApp adapter vouches for the owner's own "Message yourself" chat.
    const role = message.selfChat ? "owner" : this.people.role(message.channel, message.sender);
    const phone = this.people.phone(message.channel, message.sender);
    try {
      const result = await this.#deps.runtime.handle({
        channel: message.channel,
        account: message.account,
        chat: message.chat,
        sender: {
          id: message.sender, channel: message.channel, role,
          ...(message.senderName ? { name: message.senderName } : {}),
          ...(phone ? { phone } : {}),
        },
        ...(role === "customer" ? { approvers: this.people.ownerContacts() } : {}),
        ...(message.senderName ? { senderName: message.senderName } : {}),
        ...(message.senderTimezone ? { senderTimezone: message.senderTimezone } : {}),
        chatType: message.chatType,
        text: message.text,
        onNotice: (notice) => void this.#sendNotice(adapter, message.chat, notice),
        // Telegram gives a bot the phone number only when the person shares it: offer the button once per turn.
        ...(adapter?.name === "telegram" && message.chatType === "dm" && !phone ? { onPhoneNeeded: this.#offerPhoneButton(adapter, message.chat) } : {}),
      });
      return { reply: result.reply || "(no reply)", ...(result.errorCode ? { errorCode: result.errorCode } : {}) };
    } finally {
      clearInterval(typing);
    }
  }

  #offerPhoneButton(adapter: ChannelAdapter, chat: string): () => void {
    let offered = false;
    return () => {
      if (offered) return;
      offered = true;
      void this.#sendWithRetry(adapter, chat, "To look up or book with your phone number, tap the button below to share it.", { requestPhone: "Share my phone number" })
        .catch((error: unknown) => this.#deps.logger.error({ err: error }, "could not offer the share-phone button"));
    };
  }

  async #sendNotice(adapter: ChannelAdapter | undefined, chat: string, notice: ToolNotice): Promise<void> {
    const id = notice.approval.id;
    const buttons = { buttons: [{ label: "Yes, go ahead", data: `approval:yes:${id}` }, { label: "No", data: `approval:no:${id}` }] };
    if (notice.owners) {
      // A customer's call: the customer is told to wait (no buttons); each owner is asked in their DM.
      const sends: Array<Promise<void>> = notice.owners.approvers.map(async (approver) => {
        const ownerAdapter = this.adapter(approver.channel);
        if (!ownerAdapter) throw new Error(`channel ${approver.channel} is not running`);
        await this.#sendWithRetry(ownerAdapter, approver.chat, notice.owners!.text, buttons);
      });
      if (adapter) sends.push(this.#sendWithRetry(adapter, chat, notice.text).then(() => {}));
      for (const result of await Promise.allSettled(sends)) {
        if (result.status === "rejected") this.#deps.logger.error({ err: result.reason }, "could not send the approval prompt to an owner or the waiting notice");
      }
      return;
    }
    if (!adapter) return;
    await this.#sendWithRetry(adapter, chat, notice.text, buttons)
      .catch((error: unknown) => this.#deps.logger.error({ err: error }, "could not send the approval prompt"));
  }

  async #action(action: InboundAction): Promise<void> {
    const match = /^approval:(yes|no):(.+)$/.exec(action.data);
    if (!match) return action.acknowledge();
    const record = this.#deps.approvals.get(match[2]!);
    if (!record || record.status !== "pending") return action.acknowledge("This request is no longer waiting.");
    const approverId = this.people.ownerId(action.channel, action.sender);
    if (!this.#deps.approvals.mayDecide(record, action.channel, record.approvers.length ? approverId : action.sender)) {
      return action.acknowledge(record.approvers.length ? "Only the business can answer this." : "Only the person who asked can answer this.");
    }
    this.#deps.approvals.decide(record.id, match[1] === "yes", record.approvers.length ? `user:${action.channel}:${approverId}` : `user:${action.sender}`);
    await action.acknowledge(match[1] === "yes" ? "Approved" : "Cancelled");
  }

  async #send(id: number, adapter: ChannelAdapter, chat: string, text: string, alreadySent: number, atMostOnce = false): Promise<void> {
    const chunks = splitMessage(text, adapter.textLimit);
    for (let index = alreadySent; index < chunks.length; index++) {
      if (atMostOnce) this.ingress.sending(id, index);
      try {
        // Split first, then each chunk rendered on its own by the adapter: no entity spans two messages.
        await this.#sendWithRetry(adapter, chat, chunks[index]!, { markdown: true });
      } catch (error) {
        // Failed, not killed: it can be sent again.
        if (atMostOnce) this.ingress.sending(id, null);
        throw error;
      }
      this.ingress.chunkSent(id, index + 1);
    }
  }

  /**
   * Up to three tries ~0.5 s and 1 s apart while the channel is connected. No quick retry when the
   * channel is down (the reply goes out when it reconnects) or the platform said when to come
   * back (`retry_after`): the caller parks the reply instead.
   */
  async #sendWithRetry(adapter: ChannelAdapter, chat: string, text: string, options?: Parameters<ChannelAdapter["sendText"]>[2]): Promise<string> {
    let lastError: unknown;
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
      try {
        return await adapter.sendText(chat, text, options);
      } catch (error) {
        lastError = error;
        if (this.#stopping || retryAfterMs(error) !== undefined || !this.#connected(adapter.name) || attempt === SEND_ATTEMPTS - 1) break;
        await new Promise((resolve) => this.#clock.setTimeout(() => resolve(undefined), 500 * 2 ** attempt));
      }
    }
    throw lastError;
  }

  /**
   * Send a message the gateway starts (stored first by `ingress.addOutbound`): in order with the
   * chat's replies, retried and resumed like them.
   */
  sendStored(row: IngressRow): void {
    if (this.#stopping || this.#queued.has(row.id)) return;
    this.#enqueue(row);
  }

  /** Show a tool notice (an approval request, with its buttons) in a chat outside a chat's own turn. */
  notify(channel: string, chat: string, notice: ToolNotice): void {
    void this.#sendNotice(this.adapter(channel), chat, notice);
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
    for (const timer of this.#resendTimers.values()) this.#clock.clearTimeout(timer);
    this.#resendTimers.clear();
    await Promise.allSettled([...this.#chains.values()]);
    await Promise.all([...this.#supervisors.values()].map((supervisor) => supervisor.stop()));
  }
}
