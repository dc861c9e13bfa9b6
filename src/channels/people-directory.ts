import type { FaradayConfig } from "../config/index.ts";
import type { Database } from "../state/index.ts";

/** A sender's verified role: owners get the full agent; everyone else admitted is a customer. */
export type PersonRole = "owner" | "customer";

/** An owner, with where the entry comes from (config entries cannot be removed from the database side). */
export interface OwnerEntry {
  readonly channel: string;
  readonly sender: string;
  readonly name: string | null;
  readonly source: "config" | "database";
}

/** A chat the gateway may write to an owner in: their DM with the bot on that channel. */
export interface OwnerContact {
  readonly channel: string;
  readonly sender: string;
  readonly chat: string;
  readonly name: string | null;
}

/** Comparable form of an id: WhatsApp numbers lose spaces, dashes and brackets; others are as written. */
export function normalisePersonId(channel: string, id: string | number): string {
  const text = String(id).trim();
  if (channel !== "whatsapp") return text;
  const digits = text.replace(/[\s().-]/g, "");
  return /^\+?\d+$/.test(digits) ? `+${digits.replace(/^\+/, "")}` : digits;
}

/**
 * Who the people writing to the gateway are: the owners (from `owners`, `channels.<name>.owners`
 * and the database — the union: config owners are always owners, the CLI and dashboard add more
 * and can remove only their own), each owner's DM chat (recorded when they write, so approvals can
 * be asked there), and phone numbers people shared (Telegram's contact button).
 *
 * Roles are in force once any owner exists or any agent has `role: "customer"`; before that a
 * gateway is a one-person assistant and everyone admitted is treated as its owner (as before roles
 * existed).
 */
export class PeopleDirectory {
  readonly #database: Database;
  readonly #config: () => FaradayConfig | undefined;

  constructor(database: Database, config: () => FaradayConfig | undefined) {
    this.#database = database;
    this.#config = config;
  }

  owners(): OwnerEntry[] {
    const config = this.#config();
    const entries: OwnerEntry[] = [];
    const seen = new Set<string>();
    const add = (entry: OwnerEntry) => {
      const key = `${entry.channel}:${entry.sender}`;
      if (seen.has(key)) return;
      seen.add(key);
      entries.push(entry);
    };
    for (const owner of config?.owners ?? []) add({ channel: owner.channel, sender: normalisePersonId(owner.channel, owner.id), name: owner.name ?? null, source: "config" });
    for (const [channel, block] of Object.entries(config?.channels ?? {})) {
      const owners = (block as { owners?: Array<string | number> } | undefined)?.owners ?? [];
      for (const id of owners) add({ channel, sender: normalisePersonId(channel, id), name: null, source: "config" });
    }
    const rows = this.#database.prepare("SELECT channel, sender, sender_name FROM owners ORDER BY added_at").all() as Array<{ channel: string; sender: string; sender_name: string | null }>;
    for (const row of rows) add({ channel: row.channel, sender: row.sender, name: row.sender_name, source: "database" });
    return entries;
  }

  /** Roles are in force: some owner exists, or some agent is for customers. */
  rolesInForce(): boolean {
    return this.owners().length > 0 || (this.#config()?.agents?.list ?? []).some((agent) => agent.role === "customer");
  }

  /** The id an owner is listed (and asked) under: the platform id, WhatsApp numbers normalised. */
  ownerId(channel: string, sender: string): string {
    return normalisePersonId(channel, sender);
  }

  isOwner(channel: string, sender: string): boolean {
    const id = normalisePersonId(channel, sender);
    return this.owners().some((owner) => owner.channel === channel && owner.sender === id);
  }

  /** The verified role of an admitted sender (see the class comment for a gateway without owners). */
  role(channel: string, sender: string): PersonRole {
    if (!this.rolesInForce()) return "owner";
    return this.isOwner(channel, sender) ? "owner" : "customer";
  }

  /** Make someone an owner (CLI `pairing approve --owner`, the People page). */
  addOwner(channel: string, sender: string, name: string | null, by: string): void {
    this.#database.prepare("INSERT OR REPLACE INTO owners (channel, sender, sender_name, added_at, added_by) VALUES (?, ?, ?, ?, ?)")
      .run(channel, normalisePersonId(channel, sender), name, new Date().toISOString(), by);
  }

  /** Remove an owner the database added; true when there was one. Config owners stay (edit the config). */
  removeOwner(channel: string, sender: string): boolean {
    return Number(this.#database.prepare("DELETE FROM owners WHERE channel = ? AND sender = ?").run(channel, normalisePersonId(channel, sender)).changes) > 0;
  }

  /** Remember the DM chat an owner wrote from: approvals for customers are asked there. */
  recordDmChat(channel: string, sender: string, chat: string): void {
    this.#database.prepare(`INSERT INTO person_contacts (channel, sender, dm_chat, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (channel, sender) DO UPDATE SET dm_chat = excluded.dm_chat, updated_at = excluded.updated_at`)
      .run(channel, normalisePersonId(channel, sender), chat, new Date().toISOString());
  }

  /** Owners the gateway can reach now: those who wrote to it in a DM (it never starts a chat). */
  ownerContacts(): OwnerContact[] {
    return this.owners().flatMap((owner) => {
      const row = this.#database.prepare("SELECT dm_chat FROM person_contacts WHERE channel = ? AND sender = ?").get(owner.channel, owner.sender) as { dm_chat: string | null } | undefined;
      return row?.dm_chat ? [{ channel: owner.channel, sender: owner.sender, chat: row.dm_chat, name: owner.name }] : [];
    });
  }

  /** Store a phone number the platform vouched for (a Telegram contact the person shared of themselves). */
  setPhone(channel: string, sender: string, phone: string): void {
    this.#database.prepare(`INSERT INTO person_contacts (channel, sender, phone, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (channel, sender) DO UPDATE SET phone = excluded.phone, updated_at = excluded.updated_at`)
      .run(channel, normalisePersonId(channel, sender), phone, new Date().toISOString());
  }

  /** The sender's verified phone number: WhatsApp's sender is one; elsewhere only when shared. */
  phone(channel: string, sender: string): string | undefined {
    if (channel === "whatsapp" && /^\+\d{6,}$/.test(normalisePersonId(channel, sender))) return normalisePersonId(channel, sender);
    const row = this.#database.prepare("SELECT phone FROM person_contacts WHERE channel = ? AND sender = ?").get(channel, normalisePersonId(channel, sender)) as { phone: string | null } | undefined;
    return row?.phone ?? undefined;
  }
}
