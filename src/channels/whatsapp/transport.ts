/**
 * The adapter's own port to WhatsApp: one socket for one account. The Baileys implementation
 * (baileys-transport.ts) sits behind it; the reconnect policy, state reporting and access rules
 * in whatsapp-adapter.ts only see this, so they are unit-tested without a socket.
 */

/**
 * An inbound text, normalised from Baileys' `messages.upsert`. Our own account's messages
 * (`key.fromMe`) come through only from its "Message yourself" chat, and never the ones this
 * gateway sent.
 */
export interface WhatsAppInbound {
  readonly id: string;
  /** Where a reply goes: the contact's or the group's jid. */
  readonly chatJid: string;
  /** The sender's phone number as E.164 (`+15557654321`), or their jid when WhatsApp hides it. */
  readonly sender: string;
  readonly pushName?: string;
  readonly text: string;
  readonly isGroup: boolean;
  /** Group messages: our account is @-mentioned, or the message replies to one of ours. */
  readonly addressedToMe: boolean;
  /** Written from the linked account itself (the owner's phone), in its own "Message yourself" chat. */
  readonly selfChat?: boolean;
  /** Opaque message key, handed back for the read receipt. */
  readonly key: unknown;
}

export interface TransportHandlers {
  /** A new QR payload (WhatsApp rotates it about every 20 s while no one scans). */
  qr(qr: string): void;
  /** Logged in and listening. */
  open(me: { readonly id: string; readonly name?: string }): void;
  /** The socket closed. `statusCode` is WhatsApp's / Baileys' disconnect code when known. */
  close(statusCode: number | undefined, message: string): void;
  message(message: WhatsAppInbound): Promise<void>;
  /** Any frame arrived: proof of life for the watchdog. */
  frame(): void;
}

export interface WhatsAppTransport {
  /** Link by phone number instead of QR: the 8-character code to type on the phone. */
  requestPairingCode(phoneDigits: string): Promise<string>;
  sendText(jid: string, text: string): Promise<string>;
  markRead(key: unknown): Promise<void>;
  setTyping(jid: string, typing: boolean): Promise<void>;
  /** Unlink this device from the account (the phone's "Linked devices" list). */
  logout(): Promise<void>;
  /**
   * Hand over what the library still holds (events it buffered after sending their delivery
   * receipts) and wait until each was handled. Called before a graceful stop.
   */
  drain(): Promise<void>;
  /** Remove every listener, then end the socket. Late events of this socket are never delivered. */
  close(): void;
}

export type TransportFactory = (handlers: TransportHandlers) => Promise<WhatsAppTransport>;

/** Baileys' DisconnectReason codes that decide what we do (`Types/index.js`, DisconnectReason). */
export const WA_CLOSE = {
  connectionClosed: 428,
  connectionLost: 408,
  loggedOut: 401,
  forbidden: 403,
  multideviceMismatch: 411,
  connectionReplaced: 440,
  badSession: 500,
  restartRequired: 515,
  unavailableService: 503,
} as const;

export type CloseAction =
  /** After the QR scan (515): reconnect at once with the saved creds. */
  | { readonly kind: "restart-now" }
  /** 401: the phone unlinked us: wipe creds, ask for a new link (as Baileys' own example does). */
  | { readonly kind: "logged-out" }
  /** 403: WhatsApp refuses the account (banned or restricted): stop, keep the creds, say why. */
  | { readonly kind: "forbidden" }
  /** 411 (`<ib><downgrade_webclient/>`): the phone does not accept this companion: stop, say the fix. */
  | { readonly kind: "multidevice-mismatch" }
  /** 440: another WhatsApp Web client took over; reconnecting would ping-pong with it. */
  | { readonly kind: "replaced" }
  /** 408/428/500/503 and anything unknown: reconnect with capped backoff. */
  | { readonly kind: "backoff" };

export function closeAction(statusCode: number | undefined): CloseAction {
  switch (statusCode) {
    case WA_CLOSE.restartRequired:
      return { kind: "restart-now" };
    case WA_CLOSE.loggedOut:
      return { kind: "logged-out" };
    case WA_CLOSE.forbidden:
      return { kind: "forbidden" };
    case WA_CLOSE.multideviceMismatch:
      return { kind: "multidevice-mismatch" };
    case WA_CLOSE.connectionReplaced:
      return { kind: "replaced" };
    default:
      return { kind: "backoff" };
  }
}

/** `15557654321@s.whatsapp.net` / `15557654321:3@s.whatsapp.net` → `+15557654321`; others unchanged. */
export function phoneFromJid(jid: string): string {
  const match = /^(\d{5,15})(?::\d+)?@s\.whatsapp\.net$/.exec(jid);
  return match ? `+${match[1]}` : jid;
}

/** `+1 (555) 765-4321` → `15557654321`; undefined when it is not a plausible E.164 number. */
export function phoneDigits(phone: string): string | undefined {
  const digits = phone.replace(/[\s()+.-]/g, "");
  return /^\d{7,15}$/.test(digits) ? digits : undefined;
}
