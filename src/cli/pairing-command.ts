import { gatewayJson, localGateway } from "./gateway-client.ts";
import { printJson } from "./output.ts";

interface Target { url?: string; stateDir?: string; json?: boolean }
interface Pending { channel: string; sender: string; senderName: string | null; code: string; expiresAt: string }

/** `faraday pairing list`: who is waiting to be admitted, and who was. */
export async function runPairingList(options: Target): Promise<number> {
  const target = await localGateway(options);
  const result = await gatewayJson<{ pending: Pending[]; allowed: Array<{ channel: string; sender: string; senderName: string | null; approvedAt: string }> }>(target, "/api/pairing");
  if (options.json) printJson(result);
  else {
    if (result.pending.length === 0) process.stdout.write("no pending pairing requests\n");
    for (const request of result.pending) {
      process.stdout.write(`${request.channel.padEnd(10)} ${request.code}  ${request.senderName ?? ""} (${request.sender}), expires ${request.expiresAt}\n`);
    }
    if (result.allowed.length) process.stdout.write(`admitted: ${result.allowed.map((entry) => `${entry.channel}:${entry.senderName ?? entry.sender}`).join(", ")}\n`);
  }
  return 0;
}

/** `faraday pairing approve CHANNEL CODE`: admit the sender (they are told). */
export async function runPairingApprove(channel: string, code: string, options: Target): Promise<number> {
  const target = await localGateway(options);
  const result = await gatewayJson<{ approved: Pending }>(target, "/api/pairing/approve", { method: "POST", body: { channel, code } });
  if (options.json) printJson(result);
  else process.stdout.write(`approved ${result.approved.senderName ?? result.approved.sender} on ${result.approved.channel}\n`);
  return 0;
}
