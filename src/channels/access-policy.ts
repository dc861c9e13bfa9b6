import { randomInt } from "node:crypto";
import type { FaradayConfig } from "../config/index.ts";
import type { Database } from "../state/index.ts";
import type { InboundMessage } from "./channel-adapter.ts";

type ChannelConfig = NonNullable<NonNullable<FaradayConfig["channels"]>["telegram"]>;

/** No 0/O/1/I: codes are read aloud and typed on phones. */
const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
export const PAIRING_TTL_MS = 60 * 60_000;
export const MAX_PENDING_PER_CHANNEL = 3;

export type AccessVerdict =
  | { readonly allow: true }
  | { readonly allow: false; readonly reason: string; readonly pairingCode?: string; readonly reply?: string };

export interface PairingRequest {
  readonly channel: string;
  readonly sender: string;
  readonly senderName: string | null;
  readonly chat: string;
  readonly code: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

function newCode(): string {
  let code = "";
  for (let index = 0; index < 8; index++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/**
 * Who may talk to the assistant, per channel: DMs by `dmPolicy` (pairing by default: an
 * unknown sender gets a code and nothing reaches the model until the owner approves it),
 * groups by `groupPolicy` and `requireMention`.
 */
export class AccessPolicy {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /**
   * `owner`: the sender is one of the business's owners (config or database); an owner's DM is
   * admitted under every policy but `disabled`, as if listed in allowFrom.
   */
  decide(message: InboundMessage, config: ChannelConfig | undefined, owner = false): AccessVerdict {
    if (message.selfChat) return { allow: true };
    const allowFrom = (config?.allowFrom ?? []).map(String);
    if (message.chatType === "group") {
      const policy = config?.groupPolicy ?? "allowlist";
      if (policy === "disabled") return { allow: false, reason: "groups disabled" };
      const groups = config?.groups;
      const groupIds = Array.isArray(groups) ? groups.map(String) : Object.keys(groups ?? {});
      if (policy === "allowlist" && !groupIds.includes(message.chat)) return { allow: false, reason: "group not in the allowlist" };
      const perGroup = !Array.isArray(groups) ? groups?.[message.chat] : undefined;
      if (perGroup?.enabled === false) return { allow: false, reason: "group disabled" };
      const requireMention = perGroup?.requireMention ?? config?.requireMention ?? true;
      if (requireMention && !message.addressedToBot) return { allow: false, reason: "not mentioned" };
      return { allow: true };
    }
    const policy = config?.dmPolicy ?? "pairing";
    if (policy === "disabled") return { allow: false, reason: "direct messages disabled" };
    if (policy === "open") return { allow: true };
    if (owner || allowFrom.includes(message.sender)) return { allow: true };
    if (policy === "allowlist") return { allow: false, reason: "sender not in allowFrom" };
    if (this.isApproved(message.channel, message.sender)) return { allow: true };
    return this.#pairing(message);
  }

  isApproved(channel: string, sender: string): boolean {
    return this.#database.prepare("SELECT 1 FROM allowed_senders WHERE channel = ? AND sender = ?").get(channel, sender) !== undefined;
  }

  #pairing(message: InboundMessage): AccessVerdict {
    const now = Date.now();
    this.#database.prepare("DELETE FROM pairing_requests WHERE expires_at < ?").run(new Date(now).toISOString());
    const existing = this.#database.prepare("SELECT code FROM pairing_requests WHERE channel = ? AND sender = ?").get(message.channel, message.sender) as { code: string } | undefined;
    if (existing) {
      return { allow: false, reason: "pairing pending", pairingCode: existing.code, reply: pairingText(existing.code, message.channel) };
    }
    const pending = (this.#database.prepare("SELECT COUNT(*) AS count FROM pairing_requests WHERE channel = ?").get(message.channel) as { count: number }).count;
    if (pending >= MAX_PENDING_PER_CHANNEL) {
      return { allow: false, reason: "too many pending pairing requests", reply: "I can't take new contacts right now. Please try again later." };
    }
    const code = newCode();
    this.#database.prepare(`INSERT INTO pairing_requests (channel, sender, sender_name, chat, code, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(message.channel, message.sender, message.senderName ?? null, message.chat, code, new Date(now).toISOString(), new Date(now + PAIRING_TTL_MS).toISOString());
    return { allow: false, reason: "pairing requested", pairingCode: code, reply: pairingText(code, message.channel) };
  }

  pending(): PairingRequest[] {
    this.#database.prepare("DELETE FROM pairing_requests WHERE expires_at < ?").run(new Date().toISOString());
    return (this.#database.prepare("SELECT * FROM pairing_requests ORDER BY created_at").all() as Array<Record<string, string>>).map((row) => ({
      channel: row.channel!, sender: row.sender!, senderName: row.sender_name ?? null, chat: row.chat!, code: row.code!, createdAt: row.created_at!, expiresAt: row.expires_at!,
    }));
  }

  /** Admit the sender behind a pending code. Returns the request, or undefined when no such code. */
  approve(channel: string, code: string, by: string): PairingRequest | undefined {
    const request = this.pending().find((candidate) => candidate.channel === channel && candidate.code === code.trim().toUpperCase());
    if (!request) return undefined;
    this.#database.prepare("INSERT OR REPLACE INTO allowed_senders (channel, sender, sender_name, approved_at, approved_by) VALUES (?, ?, ?, ?, ?)")
      .run(channel, request.sender, request.senderName, new Date().toISOString(), by);
    this.#database.prepare("DELETE FROM pairing_requests WHERE channel = ? AND sender = ?").run(channel, request.sender);
    return request;
  }

  deny(channel: string, code: string): PairingRequest | undefined {
    const request = this.pending().find((candidate) => candidate.channel === channel && candidate.code === code.trim().toUpperCase());
    if (request) this.#database.prepare("DELETE FROM pairing_requests WHERE channel = ? AND sender = ?").run(channel, request.sender);
    return request;
  }

  /** Take a sender off the allowlist (admitted by pairing); true when they were on it. */
  revoke(channel: string, sender: string): boolean {
    return this.#database.prepare("DELETE FROM allowed_senders WHERE channel = ? AND sender = ?").run(channel, sender).changes > 0;
  }

  allowed(): Array<{ channel: string; sender: string; senderName: string | null; approvedAt: string }> {
    return (this.#database.prepare("SELECT * FROM allowed_senders ORDER BY approved_at").all() as Array<Record<string, string>>)
      .map((row) => ({ channel: row.channel!, sender: row.sender!, senderName: row.sender_name ?? null, approvedAt: row.approved_at! }));
  }
}

function pairingText(code: string, channel: string): string {
  return `Hi! I don't know you yet. Your pairing code is ${code} — ask the owner to approve it (faraday pairing approve ${channel} ${code}). It is valid for 1 hour.`;
}
