import { EventEmitter } from "node:events";

/**
 * The state of one part of the gateway (the database, the config, a channel, an MCP server).
 * Channel states follow the channel contract: disabled | starting | connected | reconnecting |
 * failed | logged_out; core parts use ready | failed | unconfigured.
 */
export interface ComponentStatus {
  readonly name: string;
  readonly state: string;
  /** Human-readable, never a secret. `config_invalid`-style codes are fine too. */
  readonly reason: string;
  /** Whether this component lets `/readyz` answer 200. A disabled component is ready. */
  readonly ready: boolean;
  readonly since: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export type ComponentUpdate = Omit<ComponentStatus, "name" | "since">;

/**
 * Where every component reports its state; `/readyz`, `/api/status` and `/metrics` read it.
 * Emits `component-changed` with the new status.
 */
export class ComponentRegistry extends EventEmitter<{ "component-changed": [ComponentStatus] }> {
  readonly #components = new Map<string, ComponentStatus>();

  set(name: string, update: ComponentUpdate): ComponentStatus {
    const previous = this.#components.get(name);
    const since = previous && previous.state === update.state ? previous.since : new Date().toISOString();
    const status: ComponentStatus = Object.freeze({ name, since, ...update });
    this.#components.set(name, status);
    this.emit("component-changed", status);
    return status;
  }

  get(name: string): ComponentStatus | undefined {
    return this.#components.get(name);
  }

  remove(name: string): void {
    this.#components.delete(name);
  }

  list(): ComponentStatus[] {
    return [...this.#components.values()];
  }

  /** Components keeping the gateway from being ready. Empty means ready. */
  failing(): ComponentStatus[] {
    return this.list().filter((component) => !component.ready);
  }
}
