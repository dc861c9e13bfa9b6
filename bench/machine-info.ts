import { arch, availableParallelism, cpus, platform, release, totalmem } from "node:os";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  totalMemoryBytes: number;
  totalMemoryGiB: number;
  node: string;
  v8: string;
  platform: string;
  date: string;
}

/** What the numbers were measured on; printed above the table and stored in the JSON. */
export function machineInfo(): MachineInfo {
  const totalMemoryBytes = totalmem();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    totalMemoryBytes,
    totalMemoryGiB: Number((totalMemoryBytes / 1024 ** 3).toFixed(1)),
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${release()} ${arch()}`,
    date: new Date().toISOString(),
  };
}
