import type { FaradayConfig } from "../config/index.ts";

/** One chat an owner can be reached in. */
export interface OwnerChat {
  readonly channel: string;
  readonly chat: string;
  /** The owner's platform user id (approvals in scheduled turns ask this person). */
  readonly owner: string;
}

/**
 * The business's owners and where to reach them: heartbeat messages and `deliverTo: "owners"`
 * go there, and a confirm-level tool in a scheduled turn asks them. A port, so the roles work
 * (issue 18) can put its own directory behind it.
 */
export interface OwnerDirectory {
  owners(): OwnerChat[];
  /** Is this person an owner on this channel? */
  isOwner(channel: string, sender: string): boolean;
}

const CHANNELS = ["telegram", "discord", "whatsapp"] as const;

/**
 * The minimal directory: `channels.<name>.owners` (user ids) from the config, each reached in
 * a chat they wrote from (the ingress store knows; their DM first, else the latest), else — on
 * Telegram, where a DM's chat id is the user's — at their own id. Discord and WhatsApp owners are
 * reached only in a chat they wrote from.
 */
export function configOwnerDirectory(config: () => FaradayConfig | undefined, chatsOf: (channel: string, sender: string) => string[]): OwnerDirectory {
  const ids = (channel: (typeof CHANNELS)[number]): string[] => {
    const owners = (config()?.channels?.[channel] as { owners?: Array<string | number> } | undefined)?.owners ?? [];
    return owners.map(String);
  };
  return {
    owners() {
      return CHANNELS.flatMap((channel) => ids(channel).flatMap((owner): OwnerChat[] => {
        // A Telegram DM's chat id is the user's id; a Discord DM channel has an id of its own.
        const chat = chatsOf(channel, owner)[0] ?? (channel === "telegram" ? owner : undefined);
        return chat === undefined ? [] : [{ channel, chat, owner }];
      }));
    },
    isOwner(channel, sender) {
      return (CHANNELS as readonly string[]).includes(channel) && ids(channel as (typeof CHANNELS)[number]).includes(sender);
    },
  };
}

/** What the roles' people directory (src/channels/people-directory.ts) offers: owners from config and the database, and their DM chats. */
export interface PeopleOwners {
  owners(): ReadonlyArray<{ readonly channel: string; readonly sender: string }>;
  ownerContacts(): ReadonlyArray<{ readonly channel: string; readonly sender: string; readonly chat: string }>;
  isOwner(channel: string, sender: string): boolean;
}

/**
 * The directory the gateway uses: every owner the roles know (`owners`, `channels.<name>.owners`,
 * the ones set from the CLI or the People page), reached in their recorded DM chat, else a chat
 * they wrote from, else — on Telegram — at their own id.
 */
export function peopleOwnerDirectory(people: PeopleOwners, chatsOf: (channel: string, sender: string) => string[]): OwnerDirectory {
  return {
    owners() {
      const contacts = people.ownerContacts();
      return people.owners().flatMap((owner): OwnerChat[] => {
        const chat = contacts.find((contact) => contact.channel === owner.channel && contact.sender === owner.sender)?.chat
          ?? chatsOf(owner.channel, owner.sender)[0]
          ?? (owner.channel === "telegram" ? owner.sender : undefined);
        return chat === undefined ? [] : [{ channel: owner.channel, chat, owner: owner.sender }];
      });
    },
    isOwner: (channel, sender) => people.isOwner(channel, sender),
  };
}
