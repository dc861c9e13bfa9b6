import type { ConfigService } from "./config-service.ts";
import type { ComponentRegistry } from "./components.ts";
import type { AppPlugin } from "../http/index.ts";
import type { Environment } from "../config/index.ts";
import type { Logger } from "../logging/index.ts";
import type { Database, SecretStore, StatePaths, StorageHealth } from "../state/index.ts";

/** What the gateway hands each capability (agent, channels, MCP tools) when it boots. */
export interface GatewayContext {
  readonly version: string;
  readonly paths: StatePaths;
  readonly environment: Environment;
  readonly config: ConfigService;
  readonly components: ComponentRegistry;
  readonly database: Database;
  readonly secrets: SecretStore;
  readonly logger: Logger;
  /** Where a failed write is reported: a full disk turns `/readyz` 503 DISK_FULL until space returns. */
  readonly storage: StorageHealth;
}

/** What a capability gives back: routes to mount, and work to start after listen / stop at shutdown. */
export interface ExtensionInstance {
  /** Routes; mounted before listen, under the same auth rules as the core routes. */
  readonly plugin?: AppPlugin;
  /** Runs after the server listens, so slow work (connecting channels) never delays /healthz. */
  start?(): Promise<void>;
  /** Finish in-flight work and let go of resources; bounded by the shutdown timeout. */
  stop?(): Promise<void>;
}

/**
 * A capability that plugs into the gateway process. Later issues add theirs to the list the
 * gateway command passes to `startGateway`; each imports its heavy libraries inside `setup`.
 */
export interface GatewayExtension {
  readonly name: string;
  setup(context: GatewayContext): Promise<ExtensionInstance>;
}
