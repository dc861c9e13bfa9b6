import { createInterface, type Interface } from "node:readline/promises";
import { readEnvironment } from "../config/index.ts";
import { FaradayError, isFaradayError } from "../errors/index.ts";
import { gatewayJson, localGateway, type GatewayTarget } from "./gateway-client.ts";
import { printJson } from "./output.ts";

export interface OnboardOptions {
  nonInteractive?: boolean;
  provider?: string;
  model?: string;
  skip?: string;
  json?: boolean;
  url?: string;
  stateDir?: string;
}

const STEPS = ["model", "telegram", "discord", "favcrm", "hello"] as const;
type Step = (typeof STEPS)[number];

interface StepOutcome {
  readonly step: Step;
  readonly outcome: "done" | "skipped" | "failed";
  readonly detail: string;
}

/** The variables `--non-interactive` reads credentials from (never from argv, where `ps` shows them). */
const CREDENTIAL_VARIABLES: Record<Exclude<Step, "model" | "hello">, string> = {
  telegram: "TELEGRAM_BOT_TOKEN",
  discord: "DISCORD_BOT_TOKEN",
  favcrm: "FAVCRM_API_KEY",
};
const MODEL_VARIABLES = { anthropic: "ANTHROPIC_API_KEY", openai: "OPENAI_API_KEY" } as const;

/** What running a step against the gateway answered, as a line for the person. */
async function runStep(target: GatewayTarget, step: Step, input: { provider?: "anthropic" | "openai"; model?: string; secret?: string }): Promise<StepOutcome> {
  try {
    if (step === "model") {
      const answer = await gatewayJson<{ model: string; answer: string; warnings?: string[] }>(target, "/api/setup/model", {
        method: "POST", body: { provider: input.provider, apiKey: input.secret, ...(input.model ? { model: input.model } : {}) },
      });
      return { step, outcome: "done", detail: `${answer.model} answered: "${answer.answer}"${answer.warnings?.length ? ` (${answer.warnings.join("; ")})` : ""}` };
    }
    if (step === "telegram" || step === "discord") {
      const answer = await gatewayJson<{ detail: string; warnings?: string[] }>(target, `/api/setup/channels/${step}`, { method: "POST", body: { token: input.secret } });
      return { step, outcome: "done", detail: `token accepted: ${answer.detail}; the channel is connecting${answer.warnings?.length ? ` (${answer.warnings.join("; ")})` : ""}` };
    }
    if (step === "favcrm") {
      const answer = await gatewayJson<{ detail: string }>(target, "/api/setup/favcrm", { method: "POST", body: { apiKey: input.secret } });
      return { step, outcome: "done", detail: answer.detail };
    }
    const answer = await gatewayJson<{ reply: string; sessionId: string }>(target, "/api/chat", { method: "POST", body: { text: "Hello!" } });
    return { step, outcome: "done", detail: `the agent answered: "${answer.reply}" (session ${answer.sessionId}; continue with \`faraday chat --session ${answer.sessionId}\`)` };
  } catch (error) {
    if (isFaradayError(error) && error.code === "GATEWAY_UNREACHABLE") throw error;
    return { step, outcome: "failed", detail: isFaradayError(error) ? `${error.code}: ${error.message}` : String(error) };
  }
}

/** Read a line without echoing it (a key or token typed or pasted on a terminal). */
async function askHidden(terminal: Interface, question: string): Promise<string> {
  const output = process.stdout;
  const writeOriginal = output.write.bind(output);
  let muted = false;
  // readline echoes through the output stream: mute it while the answer is typed.
  output.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (muted && typeof chunk === "string" && chunk !== "\n" && chunk !== "\r\n") return true;
    return (writeOriginal as (chunk: string | Uint8Array, ...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof output.write;
  try {
    const pending = terminal.question(question);
    muted = true;
    const answer = await pending;
    return answer.trim();
  } finally {
    muted = false;
    output.write = writeOriginal;
    writeOriginal("\n");
  }
}

function parseSkip(value: string | undefined): Set<Step> {
  const skip = new Set<Step>();
  for (const name of (value ?? "").split(",").map((part) => part.trim()).filter(Boolean)) {
    if (!(STEPS as readonly string[]).includes(name)) throw new FaradayError("BAD_REQUEST", `--skip: unknown step "${name}"; steps are ${STEPS.join(", ")}`);
    skip.add(name as Step);
  }
  return skip;
}

function parseProvider(value: string | undefined): "anthropic" | "openai" | undefined {
  if (value === undefined) return undefined;
  if (value !== "anthropic" && value !== "openai") throw new FaradayError("BAD_REQUEST", `--provider: "${value}" is not one of anthropic, openai`);
  return value;
}

/**
 * `faraday onboard`: the Setup page's steps in the terminal, against the running gateway — a
 * model key checked with one real call, bot tokens checked live, the FavCRM key, a first hello.
 * Interactive on a TTY; `--non-interactive` takes credentials from the environment
 * (ANTHROPIC_API_KEY or OPENAI_API_KEY, TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN, FAVCRM_API_KEY)
 * and skips a step whose variable is not set. Exit 0 when no step failed, else 1.
 */
export async function runOnboard(options: OnboardOptions): Promise<number> {
  const skip = parseSkip(options.skip);
  const provider = parseProvider(options.provider);
  const target = await localGateway(options);
  const outcomes: StepOutcome[] = [];
  const report = (outcome: StepOutcome) => {
    outcomes.push(outcome);
    if (!options.json) process.stdout.write(`${outcome.outcome === "done" ? "✓" : outcome.outcome === "skipped" ? "–" : "✗"} ${outcome.step}: ${outcome.detail}\n`);
  };

  if (options.nonInteractive || !process.stdin.isTTY) {
    if (!options.nonInteractive) throw new FaradayError("BAD_REQUEST", "stdin is not a terminal: run `faraday onboard --non-interactive` (credentials from the environment), or open the dashboard's Setup page");
    const variables = readEnvironment().variables;
    for (const step of STEPS) {
      if (skip.has(step)) {
        report({ step, outcome: "skipped", detail: "--skip" });
        continue;
      }
      if (step === "model") {
        const chosen = provider ?? (variables.ANTHROPIC_API_KEY ? "anthropic" : variables.OPENAI_API_KEY ? "openai" : undefined);
        const secret = chosen ? variables[MODEL_VARIABLES[chosen]] : undefined;
        if (!chosen || !secret) {
          report({ step, outcome: "skipped", detail: `set ${chosen ? MODEL_VARIABLES[chosen] : "ANTHROPIC_API_KEY or OPENAI_API_KEY"} in this command's environment to store and check a model key` });
          continue;
        }
        report(await runStep(target, step, { provider: chosen, secret, ...(options.model ? { model: options.model } : {}) }));
      } else if (step === "hello") {
        report(outcomes.some((outcome) => outcome.step === "model" && outcome.outcome === "failed")
          ? { step, outcome: "skipped", detail: "the model step failed" }
          : await runStep(target, step, {}));
      } else {
        const secret = variables[CREDENTIAL_VARIABLES[step]];
        if (!secret) report({ step, outcome: "skipped", detail: `${CREDENTIAL_VARIABLES[step]} is not set` });
        else report(await runStep(target, step, { secret }));
      }
    }
  } else {
    const terminal = createInterface({ input: process.stdin, output: process.stdout });
    try {
      process.stdout.write(`Setting up the gateway at ${target.url}. Press Enter on an empty answer to skip a step; run this again any time.\n\n`);
      for (const step of STEPS) {
        if (skip.has(step)) {
          report({ step, outcome: "skipped", detail: "--skip" });
          continue;
        }
        // Each step until it works or the person skips it.
        for (;;) {
          let outcome: StepOutcome;
          if (step === "model") {
            const answer = provider ?? (await terminal.question("Model provider — anthropic or openai [anthropic]: ")).trim().toLowerCase();
            const chosen = parseProvider(answer === "" ? "anthropic" : answer);
            const secret = await askHidden(terminal, `${chosen === "openai" ? "OpenAI" : "Anthropic"} API key (hidden; Enter skips): `);
            if (!secret) {
              report({ step, outcome: "skipped", detail: "skipped" });
              break;
            }
            const model = options.model ?? (await terminal.question("Model name (Enter for the default): ")).trim();
            outcome = await runStep(target, step, { provider: chosen, secret, ...(model ? { model } : {}) });
          } else if (step === "hello") {
            const answer = (await terminal.question("Say hello to the agent now? [Y/n] ")).trim().toLowerCase();
            if (answer.startsWith("n")) {
              report({ step, outcome: "skipped", detail: "skipped" });
              break;
            }
            outcome = await runStep(target, step, {});
          } else {
            const label = step === "telegram" ? "Telegram bot token from @BotFather" : step === "discord" ? "Discord bot token" : "FavCRM API key (fav_mcp_…)";
            const secret = await askHidden(terminal, `${label} (hidden; Enter skips): `);
            if (!secret) {
              report({ step, outcome: "skipped", detail: step === "telegram" ? "skipped (WhatsApp links with a QR code on the dashboard's Setup page)" : "skipped" });
              break;
            }
            outcome = await runStep(target, step, { secret });
          }
          report(outcome);
          if (outcome.outcome !== "failed") break;
          const again = (await terminal.question("Try again? [Y/n] ")).trim().toLowerCase();
          if (again.startsWith("n")) break;
          outcomes.pop();
        }
      }
    } finally {
      terminal.close();
    }
  }
  if (options.json) printJson({ steps: outcomes });
  else process.stdout.write(`\nWhatsApp: link it from the dashboard (${target.url}/#setup) with a QR code. Run \`faraday onboard\` again to change anything.\n`);
  return outcomes.some((outcome) => outcome.outcome === "failed") ? 1 : 0;
}
