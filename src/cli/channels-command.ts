import { FaradayError } from "../errors/index.ts";
import { gatewayJson, localGateway } from "./gateway-client.ts";
import { printJson } from "./output.ts";

interface Target { url?: string; stateDir?: string; json?: boolean }

interface LoginStatus {
  state: "idle" | "starting" | "qr" | "pairing_code" | "linked" | "failed";
  qr: string | null;
  pairingCode: string | null;
  reason: string | null;
  account: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `faraday channels list`: each channel's state and reason, as the gateway reports them. */
export async function runChannelsList(options: Target): Promise<number> {
  const target = await localGateway(options);
  const result = await gatewayJson<{ channels: Array<{ name: string; state: string; reason: string; enabled: boolean; credential: { source: string | null; hint?: string } }> }>(target, "/api/channels");
  if (options.json) printJson(result);
  else {
    for (const channel of result.channels) {
      const credential = channel.credential.source ? ` [${channel.credential.source}${channel.credential.hint ? ` ${channel.credential.hint}` : ""}]` : "";
      process.stdout.write(`${channel.name.padEnd(10)} ${channel.state.padEnd(12)} ${channel.reason}${credential}\n`);
    }
  }
  return 0;
}

function requireWhatsApp(channel: string): void {
  if (channel !== "whatsapp") throw new FaradayError("BAD_REQUEST", `only WhatsApp is linked this way; ${channel} takes a bot token (dashboard → Channels, or its env var)`);
}

/**
 * `faraday channels login whatsapp [--pairing-code PHONE]`: start linking on the running gateway,
 * draw each QR as WhatsApp rotates it (or print the pairing code), and wait until linked.
 */
export async function runChannelsLogin(channel: string, options: Target & { pairingCode?: string; timeoutSeconds?: number }): Promise<number> {
  requireWhatsApp(channel);
  const target = await localGateway(options);
  let status = await gatewayJson<LoginStatus>(target, "/api/channels/whatsapp/login", {
    method: "POST",
    body: options.pairingCode ? { phoneNumber: options.pairingCode } : {},
  });
  const deadline = Date.now() + (options.timeoutSeconds ?? 300) * 1000;
  let shownQr: string | null = null;
  let shownCode: string | null = null;
  const { toString: qrToString } = await import("qrcode");
  if (!options.json) process.stdout.write(options.pairingCode ? "Asking WhatsApp for a pairing code…\n" : "Waiting for WhatsApp's QR code…\n");
  while (Date.now() < deadline) {
    if (status.state === "linked") {
      if (options.json) printJson(status);
      else process.stdout.write(`✓ WhatsApp linked${status.account ? ` as ${status.account}` : ""}. The gateway is connecting with the saved link; it survives restarts.\n`);
      return 0;
    }
    if (status.state === "failed") throw new FaradayError("CHANNEL_LINK_FAILED", status.reason ?? "linking failed; run the command again");
    if (!options.json && status.qr && status.qr !== shownQr) {
      shownQr = status.qr;
      const art = await qrToString(status.qr, { type: "terminal", small: true, errorCorrectionLevel: "L" });
      process.stdout.write(`\nOn the phone: WhatsApp → Settings → Linked devices → Link a device, and scan:\n${art}\n(the code refreshes every ~20 s; this picture follows it)\n`);
    }
    if (!options.json && status.pairingCode && status.pairingCode !== shownCode) {
      shownCode = status.pairingCode;
      process.stdout.write(`\nOn the phone: WhatsApp → Settings → Linked devices → Link a device → Link with phone number instead, and type:\n\n    ${status.pairingCode}\n\n`);
    }
    await sleep(1_000);
    status = await gatewayJson<LoginStatus>(target, "/api/channels/whatsapp/login");
  }
  throw new FaradayError("CHANNEL_LINK_FAILED", `not linked after ${options.timeoutSeconds ?? 300} s; run \`faraday channels login whatsapp\` again and scan the newest code`);
}

/** `faraday channels logout whatsapp`: unlink the device and forget its creds. */
export async function runChannelsLogout(channel: string, options: Target): Promise<number> {
  requireWhatsApp(channel);
  const target = await localGateway(options);
  const result = await gatewayJson<{ ok: boolean; state: string }>(target, "/api/channels/whatsapp/logout", { method: "POST", body: {} });
  if (options.json) printJson(result);
  else process.stdout.write("WhatsApp unlinked; link again with `faraday channels login whatsapp`\n");
  return 0;
}
