import { createInterface } from "node:readline/promises";
import { EXIT_CODES, FaradayError } from "../errors/index.ts";
import { callGateway, localGateway, type GatewayTarget } from "./gateway-client.ts";
import { printJson } from "./output.ts";

export interface ChatOptions {
  message?: string;
  session?: string;
  json?: boolean;
  url?: string;
  stateDir?: string;
}

interface PendingApproval {
  id: string;
  sessionId: string;
  tool: string;
  text: string;
  expiresAt: string;
}

interface ChatResult {
  sessionId: string;
  reply: string;
  /** Set when the turn stopped to wait for a yes (the reply is then the question). */
  pendingApproval?: PendingApproval;
  [key: string]: unknown;
}

/** Tell the person how to answer a pending approval, with the real session id. */
function approvalHint(approval: PendingApproval): string {
  return `Waiting for your yes (session ${approval.sessionId}). Answer with \`faraday chat --session ${approval.sessionId} -m yes\` (or \`-m no\`), or from the dashboard's Approvals page.`;
}

/** Send one message; stream deltas to `onDelta`; resolve with the `done` object. */
async function sendMessage(
  target: GatewayTarget,
  text: string,
  sessionId: string | undefined,
  onDelta?: (text: string) => void,
  onApproval?: (approval: PendingApproval) => "stop" | void,
): Promise<ChatResult> {
  const response = await callGateway(target, "/api/chat", {
    method: "POST",
    body: { text, ...(sessionId ? { sessionId } : {}) },
    accept: onDelta ? "text/event-stream" : "application/json",
  });
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
      else if (event === "approval") {
        // Stop reading: the turn waits on the gateway; whoever answers gets its reply.
        if (onApproval?.(parsed) === "stop") return { sessionId: parsed.sessionId, reply: parsed.text, pendingApproval: parsed };
      }
      else if (event === "done") done = parsed;
      else if (event === "error") throw new FaradayError("GATEWAY_UNREACHABLE", `the turn failed: ${parsed.error?.message ?? "unknown error"}`);
    }
  }
  if (!done) throw new FaradayError("GATEWAY_UNREACHABLE", "the gateway closed the stream before the reply was complete");
  return done;
}

/** `faraday chat`: interactive with streaming, or `-m TEXT` for one message. */
export async function runChat(options: ChatOptions): Promise<number> {
  const target = await localGateway(options);
  if (options.message !== undefined) {
    if (options.json) {
      const result = await sendMessage(target, options.message, options.session);
      printJson(result);
      return result.pendingApproval ? EXIT_CODES.APPROVAL_PENDING : 0;
    }
    let streamed = "";
    const result = await sendMessage(target, options.message, options.session, (text) => {
      streamed += text;
      process.stdout.write(text);
    }, () => "stop");
    if (result.pendingApproval) {
      process.stdout.write(`${streamed ? "\n" : ""}Session: ${result.sessionId}\n${result.pendingApproval.text}\n`);
      process.stderr.write(`${approvalHint(result.pendingApproval)}\n`);
      return EXIT_CODES.APPROVAL_PENDING;
    }
    // A command reply (/status) or an error sentence arrives without deltas.
    if (streamed === "") process.stdout.write(result.reply);
    process.stdout.write("\n");
    return 0;
  }
  if (!process.stdin.isTTY) return chatFromPipe(target, options.session);
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  // End of input (Ctrl+D, a closed pipe) closes the interface; a pending question never settles then.
  const closed = new Promise<null>((resolve) => terminal.once("close", () => resolve(null)));
  let sessionId = options.session;
  process.stdout.write(`Connected to ${target.url}. /new starts over, /status shows usage, Ctrl+D quits.\n`);
  try {
    for (;;) {
      const line = await Promise.race([terminal.question("you> ").catch(() => null), closed]);
      if (line === null) break;
      if (line.trim() === "") continue;
      process.stdout.write("assistant> ");
      let streamed = "";
      const result = await sendMessage(target, line, sessionId, (text) => {
        streamed += text;
        process.stdout.write(text);
      }, (approval) => {
        // The turn is paused on the gateway until this person answers in the same session.
        void terminal.question(`\n${approval.text}\nApprove? [y/n] `)
          .then((answer) => sendMessage(target, /^\s*y/i.test(answer) ? "yes" : /^\s*n/i.test(answer) ? "no" : answer, approval.sessionId, undefined))
          .then((ack) => process.stdout.write(`${ack.reply}\nassistant> `), (error: Error) => process.stderr.write(`${error.message}\n`));
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

/**
 * `faraday chat` with stdin from a pipe or a file: the lines that arrive together are one message
 * (`printf 'line one\nline two\n' | faraday chat`, `faraday chat < note.txt`), not one message per
 * line; lines written later (a program talking to the chat) are the next message, in the same
 * session. "Together" is one read from the pipe: readline hands over every line of a chunk
 * before the next turn of the event loop, where the batch is sent.
 */
async function chatFromPipe(target: GatewayTarget, session: string | undefined): Promise<number> {
  const lines = createInterface({ input: process.stdin, terminal: false });
  let sessionId = session;
  let pending: string[] = [];
  let scheduled = false;
  let queue: Promise<void> = Promise.resolve();
  let failed: Error | undefined;
  // A turn paused for a yes: the next lines are the answer (y/n), sent beside the open stream,
  // which then carries the resumed turn's answer.
  let awaitingApproval: PendingApproval | undefined;
  const answerApproval = (text: string) => {
    const approval = awaitingApproval!;
    awaitingApproval = undefined;
    const answer = /^\s*y/i.test(text) ? "yes" : /^\s*n/i.test(text) ? "no" : text;
    void sendMessage(target, answer, approval.sessionId, undefined)
      .then((ack) => process.stdout.write(`${ack.reply}\nassistant> `), (error: Error) => (failed ??= error));
  };
  const send = async (text: string) => {
    if (failed || text.trim() === "") return;
    process.stdout.write("assistant> ");
    let streamed = "";
    try {
      const result = await sendMessage(target, text, sessionId, (delta) => {
        streamed += delta;
        process.stdout.write(delta);
      }, (approval) => {
        awaitingApproval = approval;
        process.stdout.write(`\n${approval.text}\nApprove? [y/n] `);
      });
      if (streamed === "") process.stdout.write(result.reply);
      process.stdout.write("\nyou> ");
      sessionId = result.sessionId;
    } catch (error) {
      failed = error as Error;
    }
  };
  const flush = () => {
    scheduled = false;
    const text = pending.join("\n");
    pending = [];
    if (awaitingApproval && text.trim() !== "") return answerApproval(text);
    queue = queue.then(() => send(text));
  };
  process.stdout.write(`Connected to ${target.url}. Reading messages from stdin.\nyou> `);
  lines.on("line", (line) => {
    pending.push(line);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  await new Promise<void>((resolve) => lines.once("close", () => resolve()));
  if (scheduled) flush();
  await queue;
  process.stdout.write("\n");
  if (failed) throw failed;
  return 0;
}
