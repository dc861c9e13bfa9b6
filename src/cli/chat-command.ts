import { createInterface } from "node:readline/promises";
import { readEnvironment, resolveStateDir } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { readLockOwner } from "../state/index.ts";
import { printJson } from "./output.ts";
import { localGatewayToken } from "./token-command.ts";

export interface ChatOptions {
  message?: string;
  session?: string;
  json?: boolean;
  url?: string;
  stateDir?: string;
}

interface ChatResult {
  sessionId: string;
  reply: string;
  [key: string]: unknown;
}

/** Where the local gateway listens: --url, else the running gateway's owner record, else :3000. */
async function gatewayUrl(options: ChatOptions): Promise<string> {
  if (options.url) return options.url.replace(/\/$/, "");
  const owner = await readLockOwner(resolveStateDir(options.stateDir, readEnvironment()));
  return owner?.url ?? "http://127.0.0.1:3000";
}

/** Send one message; stream deltas to `onDelta`; resolve with the `done` object. */
async function sendMessage(url: string, token: string, text: string, sessionId: string | undefined, onDelta?: (text: string) => void): Promise<ChatResult> {
  let response: Response;
  try {
    response = await fetch(`${url}/api/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: onDelta ? "text/event-stream" : "application/json" },
      body: JSON.stringify({ text, ...(sessionId ? { sessionId } : {}) }),
    });
  } catch (error) {
    throw new FaradayError("GATEWAY_UNREACHABLE", `cannot reach the gateway at ${url} (${(error as Error).message}); is it running? Pass --url to point elsewhere`);
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    throw new FaradayError("GATEWAY_UNREACHABLE", `the gateway answered ${response.status}: ${body.error?.code ?? ""} ${body.error?.message ?? ""}`.trim());
  }
  if (!onDelta) return (await response.json()) as ChatResult;
  const decoder = new TextDecoder();
  let buffer = "";
  let done: ChatResult | undefined;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event = /^event: (.+)$/m.exec(frame)?.[1];
      const data = /^data: (.+)$/m.exec(frame)?.[1];
      if (!event || data === undefined) continue;
      const parsed = JSON.parse(data);
      if (event === "delta") onDelta(parsed.text);
      else if (event === "done") done = parsed;
      else if (event === "error") throw new FaradayError("GATEWAY_UNREACHABLE", `the turn failed: ${parsed.error?.message ?? "unknown error"}`);
    }
  }
  if (!done) throw new FaradayError("GATEWAY_UNREACHABLE", "the gateway closed the stream before the reply was complete");
  return done;
}

/** `faraday chat`: interactive with streaming, or `-m TEXT` for one message. */
export async function runChat(options: ChatOptions): Promise<number> {
  const url = await gatewayUrl(options);
  const token = await localGatewayToken(options.stateDir);
  if (options.message !== undefined) {
    if (options.json) {
      printJson(await sendMessage(url, token, options.message, options.session));
    } else {
      let streamed = "";
      const result = await sendMessage(url, token, options.message, options.session, (text) => {
        streamed += text;
        process.stdout.write(text);
      });
      // A command reply (/status) or an error sentence arrives without deltas.
      if (streamed === "") process.stdout.write(result.reply);
      process.stdout.write("\n");
    }
    return 0;
  }
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  let sessionId = options.session;
  process.stdout.write(`Connected to ${url}. /new starts over, /status shows usage, Ctrl+D quits.\n`);
  try {
    for (;;) {
      let line: string;
      try {
        line = await terminal.question("you> ");
      } catch {
        break;
      }
      if (line.trim() === "") continue;
      process.stdout.write("assistant> ");
      let streamed = "";
      const result = await sendMessage(url, token, line, sessionId, (text) => {
        streamed += text;
        process.stdout.write(text);
      });
      if (streamed === "") process.stdout.write(result.reply);
      process.stdout.write("\n");
      sessionId = result.sessionId;
    }
  } finally {
    terminal.close();
  }
  return 0;
}
