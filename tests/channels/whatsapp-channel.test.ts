/**
 * WhatsApp end to end: the built gateway (a child process) runs the real Baileys against the
 * loopback WhatsApp fake through `channels.whatsapp.webSocketUrl`. The child trusts the fake's
 * certificate root through `--import tests/fakes/whatsapp-trust.ts` (a test CA, in effect).
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { startWhatsAppFake, type WhatsAppFake } from "../fakes/whatsapp-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, REPO_ROOT, runCli, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const CUSTOMER = "15557654321";
const TRUST = join(REPO_ROOT, "tests/fakes/whatsapp-trust.ts");
const RECORD_IMPORTS = join(REPO_ROOT, "tests/helpers/record-imports.ts");

interface Channel { name: string; state: string; reason: string; credential: { source: string | null; hint?: string } }

async function setup(t: TestContext, options: { whatsapp?: Record<string, unknown>; fake?: WhatsAppFake; stateDir?: string; env?: Record<string, string> } = {}) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const fake = options.fake ?? await startWhatsAppFake();
  if (!options.fake) t.after(() => fake.close());
  const stateDir = options.stateDir ?? await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { whatsapp: { enabled: true, webSocketUrl: fake.url, dmPolicy: "allowlist", allowFrom: [`+${CUSTOMER}`], ...options.whatsapp } },
  }));
  const env = {
    OPENCLAW_GATEWAY_TOKEN: TOKEN,
    ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests",
    ANTHROPIC_BASE_URL: model.url,
    NODE_OPTIONS: `--import ${TRUST}`,
    ...options.env,
  };
  const launch = async () => {
    const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
    const channel = async () => ((await api(gateway.url, "/api/channels", { token: TOKEN })).json.channels as Channel[]).find((entry) => entry.name === "whatsapp")!;
    const login = async () => (await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json;
    return { gateway, channel, login };
  };
  return { model, fake, stateDir, env, launch };
}

async function link(fake: WhatsAppFake, gateway: { url: string }, login: () => Promise<any>) {
  const started = await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN, method: "POST", body: {} });
  assert.equal(started.status, 200, JSON.stringify(started.json));
  await eventually(async () => (await login()).qrDataUrl !== null, 15_000, "a QR code");
  const status = await login();
  assert.equal(status.state, "qr");
  assert.match(status.qrDataUrl, /^data:image\/png;base64,/);
  await fake.scanQr(status.qr);
  await eventually(async () => (await login()).state === "linked", 15_000, "linked");
}

test("link by QR (scan, 515, login), answer a customer with read receipt and typing, survive a restart without a new scan", async (t) => {
  const { fake, launch, model, stateDir } = await setup(t);
  const first = await launch();
  await eventually(async () => (await first.channel()).state === "logged_out", 15_000, "logged_out before linking");
  assert.match((await first.channel()).reason, /faraday channels login whatsapp/);

  await link(fake, first.gateway, first.login);
  await eventually(async () => (await first.channel()).state === "connected", 20_000, "connected after the 515 restart");
  assert.equal(fake.pairings.length, 1);
  assert.equal((await first.login()).account, `+${fake.phoneNumber}`);
  assert.deepEqual((await first.channel()).credential, { source: "linked", hint: `+${fake.phoneNumber}` });

  await fake.sendText({ from: CUSTOMER, text: "do you have a slot tomorrow?", pushName: "Ann" });
  const reply = await fake.waitForMessage((message) => message.to.startsWith(CUSTOMER), 20_000);
  assert.equal(reply.text, "You said: do you have a slot tomorrow?");
  await eventually(() => fake.receipts.some((receipt) => receipt.type === "read"), 10_000, "a read receipt");
  assert.ok(fake.chatstates.some((state) => state.state === "composing" && state.to.startsWith(CUSTOMER)), "typing while the turn ran");
  assert.equal(model.requests.filter((request) => request.body?.messages).length, 1);

  // A stranger is not answered by the model (allowlist) and the gateway never writes first.
  await fake.sendText({ from: "15550009999", text: "hello?" });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(fake.received.filter((message) => message.to.startsWith("15550009999")).length, 0);
  assert.equal(model.requests.filter((request) => request.body?.messages).length, 1);

  // Restart: the creds come from the database; no QR, no new pairing. What the customer wrote
  // while the gateway was down arrives from WhatsApp's offline queue and is answered.
  first.gateway.kill("SIGTERM");
  assert.equal((await first.gateway.exited).code, 0);
  const queued = await fake.sendText({ from: CUSTOMER, text: "written while you were down" });
  assert.equal(queued.queued, true);
  const qrsBefore = fake.qrRefsIssued;
  const second = await launch();
  await eventually(async () => (await second.channel()).state === "connected", 20_000, "connected after restart");
  assert.equal(fake.qrRefsIssued, qrsBefore, "no QR after a restart");
  assert.equal(fake.pairings.length, 1);
  const afterRestart = await fake.waitForMessage((message) => message.text === "You said: written while you were down", 20_000);
  // The device list came back from the database: no forced new session, so the customer's phone
  // gets a plain message on the session it already has.
  assert.equal(afterRestart.encType, "msg", "the Signal session survived the restart");
  await fake.sendText({ from: CUSTOMER, text: "still there?" });
  const again = await fake.waitForMessage((message) => message.text === "You said: still there?", 20_000);
  assert.ok(again);
  assert.deepEqual(fake.errors, []);
  const doctor = await runToExit(t, ["doctor", "--json", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  const whatsappCheck = JSON.parse(doctor.stdout).checks.find((check: { name: string }) => check.name === "whatsapp");
  assert.deepEqual({ status: whatsappCheck?.status, detail: whatsappCheck?.detail }, { status: "ok", detail: "linked as +15550001111" });

  // Nothing secret in what the gateway printed or answered.
  const printed = second.gateway.stdout() + second.gateway.stderr() + first.gateway.stdout() + first.gateway.stderr();
  assert.ok(!printed.includes("fake-anthropic-key-for-tests"));
  assert.ok(!/noiseKey|signedIdentityKey|advSecretKey/.test(printed), "no creds in the logs");
  assert.ok(!/privKey|Closing session|SessionEntry/.test(printed), "libsignal's session dumps (private keys) never reach the output");
});

test("Baileys is loaded only once a WhatsApp socket is opened: not for a gateway without WhatsApp, not while unlinked", async (t) => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const directory = await mkdtemp(join(tmpdir(), "faraday-imports-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const recorded = join(directory, "imports.txt");
  const imports = async () => (await readFile(recorded, "utf8").catch(() => "")).split("\n");
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, NODE_OPTIONS: `--import ${RECORD_IMPORTS}`, FARADAY_TEST_RECORD_IMPORTS: recorded };

  // No WhatsApp at all: the gateway serves chat and never resolves Baileys.
  const plain = await startGateway(t, await tempStateDir(t), { env });
  assert.equal((await api(plain.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "/help" } })).status, 200);
  assert.ok((await imports()).includes("fastify"), "the recorder works");
  assert.ok(!(await imports()).includes("baileys"));
  plain.kill("SIGTERM");
  await plain.exited;

  // Enabled but not linked: reported, still not loaded; starting to link loads it.
  await writeFile(recorded, "");
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ channels: { whatsapp: { enabled: true, webSocketUrl: "ws://127.0.0.1:9/ws/chat" } } }));
  const gateway = await startGateway(t, stateDir, { env });
  const state = async () => ((await api(gateway.url, "/api/channels", { token: TOKEN })).json.channels as Channel[]).find((entry) => entry.name === "whatsapp")!.state;
  await eventually(async () => (await state()) === "logged_out", 15_000, "logged_out");
  assert.ok(!(await imports()).includes("baileys"), "not loaded while unlinked");
  assert.equal((await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN, method: "POST", body: {} })).status, 200);
  await eventually(async () => (await imports()).includes("baileys"), 10_000, "Baileys loaded for linking");
  // Nothing listens on port 9: linking fails and says so, without a crash.
  await eventually(async () => (await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json.state === "failed", 30_000, "linking failed");
  assert.match((await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json.reason, /WhatsApp|reach/);
});

test("440 (replaced) fails without a reconnect loop; 401 (logged out) wipes the link and says so", async (t) => {
  const { fake, launch } = await setup(t);
  const { gateway, channel, login } = await launch();
  await link(fake, gateway, login);
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected");

  const connections = fake.connections;
  fake.disconnect(440);
  await eventually(async () => (await channel()).state === "failed", 15_000, "failed after 440");
  assert.match((await channel()).reason, /^replaced/);
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  assert.equal(fake.connections, connections, "no automatic reconnect after 440");

  // The owner closes the other session and presses reconnect.
  const restarted = await api(gateway.url, "/api/channels/whatsapp/restart", { token: TOKEN, method: "POST", body: {} });
  assert.equal(restarted.status, 200);
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected again");

  fake.disconnect(401);
  await eventually(async () => (await channel()).state === "logged_out", 15_000, "logged_out after 401");
  assert.match((await channel()).reason, /Link it again/);
  assert.equal((await login()).state, "idle", "the creds are gone: linking starts over");
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.equal(status.json.components.find((component: { name: string }) => component.name === "channel:whatsapp").ready, false);
});

test("500 reconnects by itself; a silent socket is noticed and reconnected", async (t) => {
  const { fake, launch } = await setup(t, { whatsapp: { keepAliveSeconds: 1 } });
  const { gateway, channel, login } = await launch();
  await link(fake, gateway, login);
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected");
  const logins = fake.logins;
  fake.disconnect(500);
  await eventually(() => fake.logins > logins, 20_000, "logged in again after 500");
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected after 500");

  fake.silence(true);
  await eventually(async () => (await channel()).state !== "connected", 20_000, "the silence is noticed");
  fake.silence(false);
  await eventually(async () => (await channel()).state === "connected", 30_000, "connected after the silence");
});

test("groups: answered only when the bot is mentioned, in the group", async (t) => {
  const group = "120363000000000001@g.us";
  const { fake, launch } = await setup(t, { whatsapp: { groupPolicy: "allowlist", groups: [group] } });
  const { gateway, channel, login } = await launch();
  await link(fake, gateway, login);
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected");
  fake.addGroup({ id: group, subject: "Salon team", participants: [CUSTOMER, "15551112222"] });
  await fake.sendText({ group, from: CUSTOMER, text: "anyone free at 3?" });
  await fake.sendText({ group, from: CUSTOMER, text: "@bot book me at 3", mentions: [fake.accountJid] });
  const reply = await fake.waitForMessage((message) => message.to === group, 20_000);
  assert.equal(reply.text, "You said: @bot book me at 3");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(fake.received.filter((message) => message.to === group && message.text.includes("anyone free")).length, 0);
  assert.equal(new Set(fake.received.filter((message) => message.to === group).map((message) => message.id)).size, 1, "one reply, not one per unmentioned message");
});

test("`faraday channels login whatsapp` draws the QR, follows it, and exits once linked; logout unlinks", async (t) => {
  const { fake, launch, stateDir } = await setup(t);
  const { gateway, channel } = await launch();
  const cli = runCli(t, ["channels", "login", "whatsapp", "--url", gateway.url, "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  await eventually(() => /Link a device, and scan:/.test(cli.stdout()), 15_000, "the QR in the terminal");
  assert.match(cli.stdout(), /[█▀▄]/, "drawn with block characters");
  const status = (await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json;
  await fake.scanQr(status.qr);
  const exit = await cli.exited;
  assert.equal(exit.code, 0, cli.stdout() + cli.stderr());
  assert.match(cli.stdout(), /WhatsApp linked as \+15550001111/);
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected");

  const logout = await runCli(t, ["channels", "logout", "whatsapp", "--url", gateway.url, "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN }).exited;
  assert.equal(logout.code, 0);
  await eventually(async () => (await channel()).state === "logged_out", 10_000, "logged_out after unlink");
  // The device is gone from the phone's list: the fake saw the removal.
  assert.ok(fake.iqs.some((iq) => iq.child === "remove-companion-device"), JSON.stringify(fake.iqs.map((iq) => iq.child)));

  // Nothing about the link is left in the state dir's files either (it lives in the database).
  const files = await readdir(stateDir, { recursive: true });
  for (const file of files) {
    if (!/\.(json|md|log)$/.test(String(file))) continue;
    assert.ok(!/noiseKey|advSecretKey/.test(await readFile(join(stateDir, String(file)), "utf8")), String(file));
  }
});

test("linking by pairing code through the CLI prints the 8-character code", async (t) => {
  const { fake, launch, stateDir } = await setup(t);
  const { gateway, channel } = await launch();
  const cli = runCli(t, ["channels", "login", "whatsapp", "--pairing-code", "+1 555 000 1111", "--url", gateway.url, "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  await eventually(() => /type:\s+\S{8}/.test(cli.stdout()), 20_000, "the pairing code");
  const code = /type:\s+(\S{8})/.exec(cli.stdout())![1]!;
  assert.equal(fake.pairingCodeRequests.at(-1)?.phoneNumber, "15550001111");
  await fake.confirmPairingCode(code);
  assert.equal((await cli.exited).code, 0, cli.stdout() + cli.stderr());
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected");
});

test("a reply produced while the WhatsApp socket is down stays stored and is delivered once after the reconnect, without a restart", async (t) => {
  const { fake, launch, model } = await setup(t);
  const { gateway, channel, login } = await launch();
  await link(fake, gateway, login);
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected");
  await fake.sendText({ from: CUSTOMER, text: "hello" });
  await fake.waitForMessage((message) => message.text === "You said: hello", 20_000);

  // The turn for this message waits until the socket is down.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  t.after(() => release());
  model.setDefault(async (request) => {
    const text = lastUserText(request);
    if (text === "written before the drop") await gate;
    return { text: `You said: ${text}` };
  });
  await fake.sendText({ from: CUSTOMER, text: "written before the drop" });
  await eventually(() => model.requests.some((request) => JSON.stringify(request.body ?? "").includes("written before the drop")), 20_000, "the turn started");

  // The connection drops, and WhatsApp stays unreachable (handshakes go unanswered).
  fake.disconnect(500);
  fake.silence(true);
  await eventually(async () => (await channel()).state !== "connected", 15_000, "not connected");
  release();
  // The sentinel: the gateway says the reply is parked for the reconnect (no restart involved).
  await eventually(() => /sent when the channel next connects/.test(gateway.stdout()), 15_000, "the reply parked").catch((error) => {
    throw new Error(`${error.message}\n${gateway.stdout().slice(-4000)}`);
  });
  assert.equal(fake.received.filter((message) => message.text === "You said: written before the drop").length, 0);

  // WhatsApp answers again; the hanging handshake is cut, and the supervisor reconnects.
  fake.silence(false);
  fake.dropSocket();
  await fake.waitForMessage((message) => message.text === "You said: written before the drop", 30_000);
  await eventually(async () => (await channel()).state === "connected", 20_000, "connected again");
  // A later message is the sentinel for "no second copy".
  await fake.sendText({ from: CUSTOMER, text: "still there?" });
  await fake.waitForMessage((message) => message.text === "You said: still there?", 20_000);
  assert.equal(fake.received.filter((message) => message.text === "You said: written before the drop").length, 1, "delivered once");
  assert.deepEqual(fake.errors, []);
});
