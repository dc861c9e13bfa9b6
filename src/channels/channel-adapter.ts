/**
 * The port every chat platform implements (Telegram, Discord, WhatsApp). Adapters wrap the real
 * libraries; everything else — access policy, durable ingress, the agent, chunking, retries,
 * restarts — is shared and lives outside them.
 */

export type ChannelState = "disabled" | "starting" | "connected" | "reconnecting" | "failed" | "logged_out";

/** A message as every channel normalises it. */
export interface InboundMessage {
  readonly channel: string;
  /** Bot account the message reached (one per channel for now). */
  readonly account: string;
  readonly chat: string;
  readonly chatType: "dm" | "group";
  readonly sender: string;
  readonly senderName?: string;
  /**
   * The linked account's own chat (WhatsApp "Message yourself"): the owner talking to the
   * assistant. Admitted whatever the DM policy; set only by the adapter, never from the text.
   */
  readonly selfChat?: boolean;
  /** The sender's role when the channel layer knows it (owners config); absent: "user". */
  readonly senderRole?: "owner" | "customer" | "user";
  /** The sender's IANA time zone when known (people records); absent: the agent's zone. */
  readonly senderTimezone?: string;
  readonly text: string;
  /** Unique per channel; deduplicates redeliveries (Telegram update_id, Discord message id). */
  readonly platformId: string;
  /** Group messages: the bot was @-mentioned, or the message replies to the bot. */
  readonly addressedToBot: boolean;
  /**
   * A phone number the platform vouches is the sender's own (Telegram: a contact whose user_id is
   * the sender, as the "share my phone number" button sends it), E.164. Stored, not sent to the model.
   */
  readonly sharedPhone?: string;
}

/** A button press (Telegram callback query, Discord component). */
export interface InboundAction {
  readonly channel: string;
  readonly chat: string;
  readonly sender: string;
  readonly data: string;
  /** Acknowledge the press in the platform's UI (stop the spinner). */
  acknowledge(text?: string): Promise<void>;
}

export interface ChannelHooks {
  /**
   * Store the message durably and resolve: only then may the adapter acknowledge it to the
   * platform (Telegram's offset moves only after this resolves).
   */
  receive(message: InboundMessage): Promise<void>;
  action(action: InboundAction): Promise<void>;
  /** Report the connection state with a reason; never `connected` while nothing listens. */
  setState(state: ChannelState, reason: string): void;
  /** Proof of life (a poll returned, a heartbeat was acknowledged): feeds the watchdog. */
  alive(): void;
}

export interface SendOptions {
  /** Inline buttons under the message (approval YES/NO). */
  readonly buttons?: ReadonlyArray<{ readonly label: string; readonly data: string }>;
  /** Telegram: a one-time keyboard button with this label that shares the person's own phone number. */
  readonly requestPhone?: string;
  /**
   * The text is the model's Markdown (one chunk, already split): the adapter renders it to the
   * platform's format (Telegram HTML, WhatsApp markers, Discord as is). Otherwise plain text.
   */
  readonly markdown?: boolean;
}

export interface ChannelAdapter {
  readonly name: string;
  /** The platform's per-message text limit, in UTF-16 units. */
  readonly textLimit: number;
  /** How long without `alive()` before the watchdog declares the connection dead. */
  readonly watchdogMs: number;
  /**
   * Connect and start listening. Resolves once listening; rejects if it cannot start. After
   * that, a fatal problem is reported through `failed` (the supervisor restarts the adapter).
   */
  start(hooks: ChannelHooks, failed: (error: Error) => void): Promise<void>;
  stop(): Promise<void>;
  /** Send one message (already within `textLimit`). Resolves with the platform's message id. */
  sendText(chat: string, text: string, options?: SendOptions): Promise<string>;
  sendTyping(chat: string): Promise<void>;
}
