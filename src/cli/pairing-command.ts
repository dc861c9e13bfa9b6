import { gatewayJson, localGateway } from "./gateway-client.ts";
import { printJson } from "./output.ts";

interface Target { url?: string; stateDir?: string; json?: boolean }
interface Owner { channel: string; sender: string; name: string | null; source: "config" | "database" }
interface Pending { channel: string; sender: string; senderName: string | null; code: string; expiresAt: string }

/** `faraday pairing list`: who is waiting to be admitted, and who was. */
export async function runPairingList(options: Target): Promise<number> {
  const target = await localGateway(options);
  const result = await gatewayJson<{ pending: Pending[]; allowed: Array<{ channel: string; sender: string; senderName: string | null; approvedAt: string }>; owners?: Owner[] }>(target, "/api/pairing");
  if (options.json) printJson(result);
  else {
    if (result.pending.length === 0) process.stdout.write("no pending pairing requests\n");
    for (const request of result.pending) {
      process.stdout.write(`${request.channel.padEnd(10)} ${request.code}  ${request.senderName ?? ""} (${request.sender}), expires ${request.expiresAt}\n`);
    }
    if (result.allowed.length) process.stdout.write(`admitted: ${result.allowed.map((entry) => `${entry.channel}:${entry.senderName ?? entry.sender}`).join(", ")}\n`);
    if (result.owners?.length) process.stdout.write(`owners: ${result.owners.map((owner) => `${owner.channel}:${owner.name ?? owner.sender}${owner.source === "config" ? " (config)" : ""}`).join(", ")}\n`);
  }
  return 0;
}

/** `faraday pairing approve CHANNEL CODE [--owner]`: admit the sender (they are told); `--owner` makes them an owner. */
export async function runPairingApprove(channel: string, code: string, options: Target & { owner?: boolean }): Promise<number> {
  const target = await localGateway(options);
  const result = await gatewayJson<{ approved: Pending }>(target, "/api/pairing/approve", { method: "POST", body: { channel, code, ...(options.owner ? { owner: true } : {}) } });
  if (options.json) printJson({ ...result, owner: options.owner === true });
  else process.stdout.write(`approved ${result.approved.senderName ?? result.approved.sender} on ${result.approved.channel}${options.owner ? " as an owner" : ""}\n`);
  return 0;
}
