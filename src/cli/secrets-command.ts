import { existsSync } from "node:fs";
import { maskSecret, readEnvironment, resolveStateDir } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { createSecretStore, ensureStateDir, openDatabase, SECRET_NAMES, statePaths, type Database } from "../state/index.ts";
import { CHANNEL_SECRETS } from "../channels/start-channels.ts";
import { FAVCRM_SECRET } from "../tools/mcp/server-specs.ts";
import { suggestClosest } from "../config/did-you-mean.ts";
import { printJson } from "./output.ts";

/** The names the gateway reads from its secret store, and what each is for. */
export const KNOWN_SECRETS: Readonly<Record<string, string>> = {
  [SECRET_NAMES.gatewayToken]: "the gateway token (generated on first start; OPENCLAW_GATEWAY_TOKEN overrides it)",
  [CHANNEL_SECRETS.telegram]: "Telegram bot token (TELEGRAM_BOT_TOKEN and channels.telegram.botToken come first)",
  [CHANNEL_SECRETS.discord]: "Discord bot token (DISCORD_BOT_TOKEN and channels.discord.token come first)",
  [FAVCRM_SECRET]: "FavCRM API key (FAVCRM_API_KEY comes first)",
  "anthropic.apiKey": "Anthropic API key (ANTHROPIC_API_KEY in the gateway's environment comes first; `faraday onboard` keeps it here)",
  "openai.apiKey": "OpenAI API key (OPENAI_API_KEY in the gateway's environment comes first; `faraday onboard` keeps it here)",
};

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

export interface SecretsOptions {
  stateDir?: string;
  json?: boolean;
}

/** Runs `use` on the state dir's database; `absent` when only reading and there is none yet. */
async function withStore<T>(options: SecretsOptions, write: boolean, use: (database: Database) => T, absent: T): Promise<T> {
  const stateDir = resolveStateDir(options.stateDir, readEnvironment());
  const path = statePaths(stateDir).database;
  if (!write && !existsSync(path)) return absent;
  if (write) await ensureStateDir(stateDir);
  // Beside a running gateway: SQLite's WAL lets both write; the busy timeout covers a commit in flight.
  const database = await openDatabase(path);
  try {
    return use(database);
  } finally {
    database.close();
  }
}

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new FaradayError("BAD_REQUEST", `"${name}" is not a secret name: use letters, digits, ".", "_" and "-" (known: ${Object.keys(KNOWN_SECRETS).join(", ")})`);
  }
}

/** Reads the value from stdin: everything piped in, or one line typed (not echoed) at a terminal. */
export async function readSecretValue(input: NodeJS.ReadStream = process.stdin, prompt: NodeJS.WritableStream = process.stderr): Promise<string> {
  if (input.isTTY) {
    prompt.write("Value (not shown; Enter to finish): ");
    input.setRawMode(true);
    input.resume();
    input.setEncoding("utf8");
    const value = await new Promise<string>((resolve, reject) => {
      let typed = "";
      const onData = (chunk: string) => {
        for (const character of chunk) {
          if (character === "\r" || character === "\n") return finish(typed);
          if (character === "\u0003") return finish(undefined);
          if (character === "\u007f") typed = typed.slice(0, -1);
          else typed += character;
        }
      };
      const finish = (result: string | undefined) => {
        input.off("data", onData);
        input.setRawMode(false);
        input.pause();
        prompt.write("\n");
        if (result === undefined) reject(new FaradayError("BAD_REQUEST", "cancelled"));
        else resolve(result);
      };
      input.on("data", onData);
    });
    return value.trim();
  }
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "").trim();
}

/** `faraday secrets set NAME` (value on stdin, never in argv). */
export async function runSecretsSet(name: string, options: SecretsOptions & { value?: string }): Promise<number> {
  checkName(name);
  const value = options.value ?? (await readSecretValue());
  if (value === "") throw new FaradayError("BAD_REQUEST", `no value for ${name} on stdin: pipe it in (\`printf %s "$VALUE" | faraday secrets set ${name}\`) or type it when asked`);
  await withStore(options, true, (database) => createSecretStore(database).set(name, value), undefined);
  const known = KNOWN_SECRETS[name];
  if (options.json) printJson({ name, stored: true, hint: maskSecret(value), known: known !== undefined });
  else {
    process.stdout.write(`stored ${name} (${maskSecret(value)}) in the state dir's secret store; a running gateway uses it the next time it (or that channel) starts\n`);
    if (!known) {
      const suggestion = suggestClosest(name, Object.keys(KNOWN_SECRETS));
      process.stderr.write(`note: the gateway does not read "${name}"${suggestion ? ` — did you mean ${suggestion}?` : ""} (it reads: ${Object.keys(KNOWN_SECRETS).join(", ")})\n`);
    }
  }
  return 0;
}

/** `faraday secrets list`: names, masked hints and what each is for; never a value. */
export async function runSecretsList(options: SecretsOptions): Promise<number> {
  const entries = await withStore(options, false, (database) => {
    const store = createSecretStore(database);
    return store.names().map((name) => ({ name, hint: maskSecret(store.get(name) ?? ""), purpose: KNOWN_SECRETS[name] ?? "not read by the gateway" }));
  }, []);
  if (options.json) printJson({ secrets: entries });
  else if (entries.length === 0) process.stdout.write("the secret store is empty\n");
  else for (const entry of entries) process.stdout.write(`${entry.name.padEnd(20)} ${entry.hint.padEnd(16)} ${entry.purpose}\n`);
  return 0;
}

/** `faraday secrets remove NAME`: exit 1 when there was no such secret. */
export async function runSecretsRemove(name: string, options: SecretsOptions): Promise<number> {
  checkName(name);
  const removed = await withStore(options, false, (database) => createSecretStore(database).delete(name), false);
  if (options.json) printJson({ name, removed });
  else process.stdout.write(removed ? `removed ${name}\n` : `no secret named ${name}\n`);
  return removed ? 0 : 1;
}
