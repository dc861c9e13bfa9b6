import { FaradayError } from "../../errors/index.ts";

export interface FlyResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** The port to flyctl: argument arrays only (never a shell string), secrets only ever on stdin. */
export interface FlyClient {
  readonly binary: string;
  run(args: readonly string[], options?: { stdin?: string; cwd?: string }): Promise<FlyResult>;
}

/** Known flyctl failures, turned into errors that say what to do. */
export function flyError(result: FlyResult, context: { command: string; app?: string; region?: string }): FaradayError {
  const text = (result.stderr || result.stdout).trim();
  if (/Name has already been taken/i.test(text)) {
    return new FaradayError("FLY_APP_NAME_TAKEN", `the app name "${context.app}" is taken (Fly app names are global). Pick another, e.g. --app ${context.app}-${Math.random().toString(36).slice(2, 6)}`);
  }
  if (/payment (method|information)/i.test(text)) {
    return new FaradayError("FLY_NO_PAYMENT_METHOD", "Fly needs a payment method on the organisation before it creates apps or volumes: add one at https://fly.io/dashboard (Billing), then run this again");
  }
  if (/insufficient resources|no capacity|could not reserve resource/i.test(text)) {
    return new FaradayError("FLY_NO_CAPACITY", `Fly has no capacity in region ${context.region} right now. Try a nearby region with --region (e.g. ${nearbyRegions(context.region).join(", ")}), then run this again`);
  }
  if (/no access token|not logged in|please login|auth login/i.test(text)) {
    return new FaradayError("FLY_NOT_LOGGED_IN", "flyctl is not logged in: run `flyctl auth login` (or set FLY_ACCESS_TOKEN to an org token), then run this again");
  }
  // A revoked, expired or mistyped token: Fly's API answers 401 "You must be authenticated to view this."
  if (/must be authenticated|\b401\b|unauthori[sz]ed/i.test(text)) {
    return new FaradayError("FLY_NOT_LOGGED_IN", "Fly refused the access token (HTTP 401: revoked, expired or mistyped): run `flyctl auth login`, or set FLY_ACCESS_TOKEN / FLY_API_TOKEN to a valid org token (`flyctl tokens create org`), then run this again");
  }
  if (/too high|too low|is not valid/i.test(text) && /memory|CPU/i.test(text)) {
    return new FaradayError("BAD_REQUEST", `Fly refused the machine size: ${text.split("\n").slice(-1)[0]}. Shared CPUs take at most 2048 MB each: pick a memory size from 256 MB to 16 GB in 256 MB steps (--memory), faraday picks the CPUs`);
  }
  return new FaradayError("FLY_COMMAND_FAILED", `\`flyctl ${context.command}\` failed (exit ${result.exitCode}): ${text.split("\n").slice(-3).join(" ").slice(0, 400)}`);
}

const NEARBY: Record<string, string[]> = {
  iad: ["ewr", "ord", "yyz"], ewr: ["iad", "yyz", "ord"], ord: ["iad", "dfw", "yyz"], dfw: ["ord", "iad", "lax"],
  lax: ["sjc", "sea", "dfw"], sjc: ["lax", "sea"], sea: ["sjc", "yyz"], yyz: ["ewr", "iad", "ord"],
  lhr: ["ams", "cdg", "fra"], ams: ["lhr", "fra", "cdg"], fra: ["ams", "cdg", "lhr"], cdg: ["lhr", "ams", "fra"],
  sin: ["hkg", "nrt", "syd"], hkg: ["sin", "nrt"], nrt: ["hkg", "sin"], syd: ["sin"], gru: ["iad", "dfw"], jnb: ["lhr", "fra"],
};

export function nearbyRegions(region: string | undefined): string[] {
  return NEARBY[region ?? ""] ?? ["iad", "ams", "sin"];
}

/**
 * flyctl through execa: `$FLYCTL`, else `flyctl`, else `fly` on PATH.
 * @throws FaradayError FLYCTL_MISSING with an install hint when none is found.
 */
export async function createFlyctl(env: Readonly<Record<string, string | undefined>>): Promise<FlyClient> {
  const { execa } = await import("execa");
  const environment = { ...env, FLY_NO_UPDATE_CHECK: "1" } as Record<string, string>;
  const candidates = env.FLYCTL ? [env.FLYCTL] : ["flyctl", "fly"];
  for (const binary of candidates) {
    const probe = await execa(binary, ["version"], { env: environment, extendEnv: false, reject: false, timeout: 20_000 });
    if (probe.exitCode === 0) {
      return {
        binary,
        async run(args, options = {}) {
          const result = await execa(binary, [...args], {
            env: environment,
            extendEnv: false,
            reject: false,
            ...(options.stdin !== undefined ? { input: options.stdin } : { stdin: "ignore" }),
            ...(options.cwd ? { cwd: options.cwd } : {}),
            timeout: 30 * 60_000,
          });
          return { stdout: String(result.stdout ?? ""), stderr: String(result.stderr ?? ""), exitCode: result.exitCode ?? 1 };
        },
      };
    }
  }
  throw new FaradayError(
    "FLYCTL_MISSING",
    "flyctl was not found (tried $FLYCTL, flyctl, fly). Install it: curl -L https://fly.io/install.sh | sh — or brew install flyctl — then run `flyctl auth login`",
  );
}
