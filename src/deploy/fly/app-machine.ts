/** The fields of one entry of `flyctl machines list --json` the deploy code reads (fly-go Machine). */
export interface FlyMachine {
  readonly id?: string;
  readonly state?: string;
  readonly region?: string;
  readonly config?: { readonly image?: string; readonly metadata?: Record<string, string> };
}

/** The process group fly.toml's `[processes] app = …` runs in (fly-go MachineConfig.ProcessGroup). */
export const APP_PROCESS_GROUP = "app";

/**
 * The gateway's machine among everything `machines list --json` returns — every machine of the
 * app in API order, stopped ones and other process groups (e.g. `fly console`) included: the
 * `app` group's started machine, else its first one in any state other than destroyed.
 */
export function pickAppMachine(machines: readonly FlyMachine[]): FlyMachine | undefined {
  const group = machines.filter((machine) => (machine.config?.metadata?.fly_process_group ?? APP_PROCESS_GROUP) === APP_PROCESS_GROUP && machine.id && !["destroyed", "destroying"].includes(machine.state ?? ""));
  return group.find((machine) => machine.state === "started") ?? group[0];
}
