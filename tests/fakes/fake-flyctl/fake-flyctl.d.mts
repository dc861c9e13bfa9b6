// Types for fake-flyctl.mjs (plain JavaScript so the fake runs with any `node` on PATH).

export declare const FAKE_FLYCTL_VERSION: string;
export declare const FLY_NAME_TAKEN_ERROR: string;
export declare const FLY_NO_PAYMENT_ERROR: string;
export declare const FLY_NO_CAPACITY_ERROR: string;
export declare const FLY_NOT_LOGGED_IN_ERROR: string;
export declare const FLY_UNAUTHORIZED_ERROR: string;
export declare const FLY_REGIONS: readonly string[];

export interface FakeFlyStateOptions {
  loggedIn?: boolean;
  email?: string;
  /** When set, FLY_ACCESS_TOKEN / FLY_API_TOKEN / --access-token must be one of these. */
  acceptedTokens?: string[] | null;
  orgs?: string[];
  takenNames?: string[];
  noCapacityRegions?: string[];
}

export interface FakeVolume {
  id: string;
  name: string;
  state: string;
  size_gb: number;
  region: string;
  zone: string;
  encrypted: boolean;
  attached_machine_id: string | null;
  created_at: string;
  snapshot_retention: number;
  auto_backup_enabled: boolean;
  /** Set when `deploy` created the volume for a [mounts] source on a first deploy. */
  created_by_deploy?: boolean;
  /** `volumes snapshots create` appends here. */
  snapshots?: FakeSnapshot[];
}

export interface FakeSnapshot {
  id: string;
  size: number;
  volume_size: number;
  digest: string;
  created_at: string;
  status: string;
  retention_days: number | null;
}

export interface FakeSecret {
  name: string;
  /** Opaque (random per set), like the digest Fly's API returns: never a hash of the value. */
  digest: string;
  /** Kept only in the state file; never printed by the fake. */
  value: string;
  created_at: string;
  /** true until a deploy (or an unstaged secrets command on an app with machines) applies it. */
  staged: boolean;
}

export interface FakeCheck {
  name: string;
  status: "passing" | "warning" | "critical";
  output: string;
}

export interface FakeMachineConfig {
  image: string;
  env: Record<string, string>;
  guest: { cpu_kind: string; cpus: number; memory_mb: number };
  init: { cmd?: string[] };
  mounts: { volume: string; path: string; name: string }[];
  services: { protocol: string; internal_port: number; autostop: unknown; min_machines_running: number }[];
  metadata: Record<string, string>;
  restart: { policy: string };
}

export interface FakeMachine {
  id: string;
  name: string;
  state: string;
  region: string;
  instance_id: string;
  private_ip: string;
  config: FakeMachineConfig;
  image_ref: { registry: string; repository: string; tag: string };
  created_at: string;
  updated_at: string;
  checks: FakeCheck[];
}

export interface FakeLogEntry {
  timestamp: string;
  message: string;
  level: string;
  instance: string;
  region: string;
}

export interface FakeSshSession {
  machineId: string;
  /** The -C string as given. */
  command: string;
  /** How real flyctl splits it (shell-words quoting, then exec without a shell). */
  argv: string[];
  user: string;
  stdin: string;
  at: string;
}

export interface FakeApp {
  name: string;
  org: string;
  status: "pending" | "deployed" | "suspended";
  deployed: boolean;
  version: number;
  created_at: string;
  volumes: FakeVolume[];
  secrets: Record<string, FakeSecret>;
  machines: FakeMachine[];
  logs: FakeLogEntry[];
  sshSessions: FakeSshSession[];
}

export type FlagValue = string | boolean | string[];

export interface FakeDeployRecord {
  app: string;
  argv: string[];
  flags: Record<string, FlagValue>;
  cwd: string;
  /** The WORKING_DIRECTORY argument resolved against cwd, else cwd. */
  workdir: string;
  configPath: string | null;
  /** The fly.toml text the deploy read, if any. */
  flyToml: string | null;
  /** The Dockerfile the deploy built, resolved as flyctl does; null for --image. */
  dockerfile: string | null;
  image: string;
  region: string;
  strategy: string;
  at: string;
}

export interface FailureRule {
  /** Canonical command words, e.g. "volumes create"; matches commands that start with them. */
  match: string;
  stderr: string;
  stdout: string;
  exitCode: number;
  /** Failures left; null = every time. */
  remaining: number | null;
}

export interface SshOutputRule {
  match: string;
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface FakeFlyState {
  version: 1;
  auth: { loggedIn: boolean; email: string; acceptedTokens: string[] | null };
  orgs: string[];
  takenNames: string[];
  noCapacityRegions: string[];
  apps: Record<string, FakeApp>;
  failures: FailureRule[];
  sshOutputs: SshOutputRule[];
  deploys: FakeDeployRecord[];
}

export declare function initialState(options?: FakeFlyStateOptions): FakeFlyState;
export declare function secretDigest(): string;
export declare function goTrimSpace(text: string): string;
export declare function readState(statePath: string): FakeFlyState;
export declare function writeStateAtomic(statePath: string, state: FakeFlyState): void;
export declare function withStateLock<T>(statePath: string, fn: (state: FakeFlyState) => T): T;
export declare function canonicalCommand(text: string): string;
export declare function parseFlyToml(text: string): Record<string, unknown>;
export declare function splitCommandWords(command: string): string[];
export declare function parseSecretLines(text: string): [string, string][];
