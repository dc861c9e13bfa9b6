import { isFaradayError } from "../errors/index.ts";
import type { ComponentRegistry } from "../gateway/components.ts";
import type { Logger } from "../logging/index.ts";
import type { ChannelAdapter, ChannelHooks, ChannelState } from "./channel-adapter.ts";

export interface SupervisorOptions {
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A connection that stayed up this long resets the backoff. */
  readonly healthyAfterMs?: number;
  readonly random?: () => number;
  /**
   * Schedules the restart after a backoff (default: an unref'd setTimeout). Injectable so a test
   * can see that no restart was scheduled, instead of sleeping to prove that none happened.
   */
  readonly scheduleRetry?: (run: () => void, delayMs: number) => { cancel(): void };
}

const scheduleWithTimer = (run: () => void, delayMs: number) => {
  const timer = setTimeout(run, delayMs);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
};

/** Errors that no restart can fix: the owner has to act (token, portal switch). */
const FATAL = new Set(["CHANNEL_AUTH_FAILED", "CHANNEL_INTENTS_DISALLOWED", "CHANNEL_NOT_CONFIGURED", "CHANNEL_LOGGED_OUT", "CHANNEL_REPLACED"]);
/** Fatal errors that mean "needs a new link" rather than "broken". */
const LOGGED_OUT = new Set(["CHANNEL_LOGGED_OUT"]);

/** What the supervisor hands the adapter, plus what it reports to its owner. */
export interface SupervisorHooks extends Omit<ChannelHooks, "setState" | "alive"> {
  /** The channel reached `connected` (first start, a restart, a resume): replies waiting on it can go out. */
  connected?(): void;
}

/**
 * Runs one channel: starts it, watches it (a liveness watchdog turns a silent connection into
 * `reconnecting`), and restarts it alone with capped exponential backoff and jitter — never the
 * whole gateway. Its state is the component `channel:<name>` in /readyz and /api/status.
 */
export class ChannelSupervisor {
  readonly adapter: ChannelAdapter;
  readonly #hooks: Omit<ChannelHooks, "setState" | "alive">;
  readonly #onConnected: (() => void) | undefined;
  readonly #components: ComponentRegistry;
  readonly #logger: Logger;
  readonly #options: Required<SupervisorOptions>;
  #state: ChannelState = "starting";
  #reason = "starting";
  #lastAlive = 0;
  #attempt = 0;
  #generation = 0;
  #stopped = false;
  #watchdog: NodeJS.Timeout | undefined;
  #retry: { cancel(): void } | undefined;
  #connectedAt = 0;

  constructor(adapter: ChannelAdapter, hooks: SupervisorHooks, components: ComponentRegistry, logger: Logger, options: SupervisorOptions = {}) {
    this.adapter = adapter;
    const { connected, ...adapterHooks } = hooks;
    this.#hooks = adapterHooks;
    this.#onConnected = connected?.bind(hooks);
    this.#components = components;
    this.#logger = logger.child({ channel: adapter.name });
    this.#options = {
      initialBackoffMs: options.initialBackoffMs ?? 1_000,
      maxBackoffMs: options.maxBackoffMs ?? 5 * 60_000,
      healthyAfterMs: options.healthyAfterMs ?? 60_000,
      random: options.random ?? Math.random,
      scheduleRetry: options.scheduleRetry ?? scheduleWithTimer,
    };
  }

  get state(): { state: ChannelState; reason: string } {
    return { state: this.#state, reason: this.#reason };
  }

  #set(state: ChannelState, reason: string): void {
    if (state === this.#state && reason === this.#reason) return;
    const reached = state === "connected" && this.#state !== "connected";
    if (state !== this.#state) this.#logger.info({ state, reason }, "channel state changed");
    this.#state = state;
    this.#reason = reason;
    this.#components.set(`channel:${this.adapter.name}`, {
      state,
      reason,
      ready: state === "connected" || state === "disabled",
    });
    if (state === "connected") this.#connectedAt = Date.now();
    if (reached) {
      try {
        this.#onConnected?.();
      } catch (error) {
        this.#logger.error({ err: error }, "handling the channel's reconnect failed");
      }
    }
  }

  start(): void {
    this.#stopped = false;
    void this.#run();
  }

  /** Start again from a clean slate (after a new link, a new token, or "reconnect" on the dashboard). */
  async restart(): Promise<void> {
    await this.#stopAdapter();
    this.#attempt = 0;
    this.start();
  }

  /** Stop listening and report why (e.g. `logged_out` after the owner unlinked WhatsApp). */
  async halt(state: ChannelState, reason: string): Promise<void> {
    await this.#stopAdapter();
    this.#set(state, reason);
  }

  /** No more callbacks, timers or retries from the current run; the adapter disconnected. */
  async #stopAdapter(): Promise<void> {
    this.#stopped = true;
    this.#generation++;
    clearInterval(this.#watchdog);
    this.#retry?.cancel();
    await withTimeout(this.adapter.stop().catch(() => {}), 10_000);
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    const generation = ++this.#generation;
    this.#set(this.#attempt === 0 ? "starting" : "reconnecting", this.#attempt === 0 ? "starting" : `reconnecting (attempt ${this.#attempt + 1})`);
    const hooks: ChannelHooks = {
      ...this.#hooks,
      setState: (state, reason) => {
        if (generation === this.#generation && !this.#stopped) this.#set(state, reason);
      },
      alive: () => {
        if (generation === this.#generation) this.#lastAlive = Date.now();
      },
    };
    try {
      this.#lastAlive = Date.now();
      await this.adapter.start(hooks, (error) => {
        if (generation === this.#generation) void this.#fail(error);
      });
      if (generation !== this.#generation || this.#stopped) return;
      this.#set("connected", "listening");
      clearInterval(this.#watchdog);
      // Webhook-mode adapters have no poll to time: no watchdog (Infinity).
      if (Number.isFinite(this.adapter.watchdogMs)) {
        this.#watchdog = setInterval(() => this.#check(generation), Math.max(250, Math.floor(this.adapter.watchdogMs / 4)));
        this.#watchdog.unref();
      }
    } catch (error) {
      if (generation === this.#generation) await this.#fail(error as Error);
    }
  }

  #check(generation: number): void {
    if (generation !== this.#generation || this.#state !== "connected") return;
    if (Date.now() - this.#connectedAt > this.#options.healthyAfterMs) this.#attempt = 0;
    const silentFor = Date.now() - this.#lastAlive;
    if (silentFor > this.adapter.watchdogMs) {
      void this.#fail(new Error(`no sign of life for ${Math.round(silentFor / 1000)} s (watchdog)`));
    }
  }

  async #fail(error: Error): Promise<void> {
    if (this.#stopped) return;
    this.#generation++; // late callbacks of the failed connection are ignored from here
    clearInterval(this.#watchdog);
    const code = isFaradayError(error) ? error.code : undefined;
    // Say so at once: stopping a wedged connection can itself take a while.
    if (!code || !FATAL.has(code)) this.#set("reconnecting", error.message);
    await withTimeout(this.adapter.stop().catch(() => {}), 10_000);
    if (code && FATAL.has(code)) {
      this.#set(LOGGED_OUT.has(code) ? "logged_out" : "failed", error.message);
      this.#logger.error({ code, reason: error.message }, "channel failed; it will not restart until the config changes");
      return;
    }
    this.#attempt++;
    const base = Math.min(this.#options.initialBackoffMs * 2 ** (this.#attempt - 1), this.#options.maxBackoffMs);
    const delay = Math.round(base * (0.8 + this.#options.random() * 0.4));
    this.#set("reconnecting", `${error.message}; retrying in ${Math.max(1, Math.round(delay / 1000))} s`);
    this.#logger.warn({ err: error.message, retryInMs: delay }, "channel connection lost; restarting it alone");
    this.#retry?.cancel();
    this.#retry = this.#options.scheduleRetry(() => void this.#run(), delay);
  }

  async stop(): Promise<void> {
    await this.halt("disabled", "stopped");
  }
}

/** Wait for `promise`, but no longer than `ms`. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
