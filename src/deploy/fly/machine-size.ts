import { FaradayError } from "../../errors/index.ts";

/**
 * Fly's shared-CPU rules (fly-go machine_types.go MAX_MEMORY_MB_PER_SHARED_CPU = 2048,
 * MIN_MEMORY_MB_PER_SHARED_CPU = 256; flyctl internal/machine/update.go: 1, 2, 4, 6 or 8 shared
 * CPUs, memory in 256 MB steps). The Machines API refuses anything else at deploy time.
 */
export const MAX_MEMORY_MB_PER_SHARED_CPU = 2048;
const SHARED_CPU_COUNTS = [1, 2, 4, 6, 8] as const;
export const MAX_SHARED_MEMORY_MB = MAX_MEMORY_MB_PER_SHARED_CPU * 8;

/** The memory sizes offered (the launcher's choices); any multiple of 256 up to 16 GB works. */
export const MEMORY_CHOICES_MB = [256, 512, 1024, 2048, 4096, 8192] as const;

export interface MachineSize {
  readonly memoryMb: number;
  readonly cpus: number;
}

/**
 * The fewest shared CPUs that may carry `memoryMb`.
 * @throws FaradayError BAD_REQUEST for a size Fly would refuse, with the nearest valid ones.
 */
export function machineSize(memoryMb: number): MachineSize {
  if (!Number.isInteger(memoryMb) || memoryMb < 256 || memoryMb > MAX_SHARED_MEMORY_MB || memoryMb % 256 !== 0) {
    throw new FaradayError("BAD_REQUEST", `memory ${memoryMb} MB: Fly's shared machines take 256 to ${MAX_SHARED_MEMORY_MB} MB in steps of 256 (e.g. ${MEMORY_CHOICES_MB.join(", ")})`);
  }
  const cpus = SHARED_CPU_COUNTS.find((count) => count * MAX_MEMORY_MB_PER_SHARED_CPU >= memoryMb)!;
  return { memoryMb, cpus };
}
