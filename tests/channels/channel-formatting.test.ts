/**
 * The model's Markdown rendered per platform, after splitting: Telegram HTML (checked by the
 * fake's port of TDLib's parse_html), WhatsApp's markers (decrypted by the fake peer), Discord as
 * is. The gateway is the built one (a child process) with the real grammY, Baileys, discord.js.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { markdownToPlainText } from "../../src/channels/format/plain-text.ts";
import { markdownToTelegramHtml } from "../../src/channels/format/telegram-html.ts";
import { markdownToWhatsApp } from "../../src/channels/format/whatsapp-text.ts";
import { splitMessage } from "../../src/channels/split-message.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startDiscordFake } from "../fakes/discord-fake.ts";
import { parseTelegramHtml } from "../fakes/telegram-html.ts";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { startWhatsAppFake } from "../fakes/whatsapp-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, REPO_ROOT, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";

/** A reply with the things models write: a heading, bold, italic, inline code, a link, a list, a code block, and characters HTML must escape. */
const REPLY = [
  "## Your booking",
  "Booked **Amy** for _Friday_ at 3 pm — see [the calendar](https://example.com/cal?a=1&b=2).",
  "",
  "- Haircut: `SVC-1` (30 min)",
  "- Price < $40 & tip ~~included~~",
  "1. Arrive early",
  "",
  "```ts",
  "if (a < b && c > d) book();",
  "```",
].join("\n");

test("Markdown renders to Telegram HTML that TDLib's parser accepts, with the right entities", () => {
  const html = markdownToTelegramHtml(REPLY);
  assert.equal(html, [
    "<b>Your booking</b>",
    'Booked <b>Amy</b> for <i>Friday</i> at 3 pm — see <a href="https://example.com/cal?a=1&amp;b=2">the calendar</a>.',
    "",
    "• Haircut: <code>SVC-1</code> (30 min)",
    "• Price &lt; $40 &amp; tip <s>included</s>",
    "1. Arrive early",
    "",
    '<pre><code class="language-ts">if (a &lt; b &amp;&amp; c &gt; d) book();</code></pre>',
  ].join("\n"));
  const parsed = parseTelegramHtml(html);
  assert.match(parsed.text, /if \(a < b && c > d\) book\(\);$/);
  const types = parsed.entities.map((entity) => entity.type);
  for (const type of ["bold", "italic", "text_link", "code", "strikethrough", "pre"]) assert.ok(types.includes(type as never), `${type} in ${types.join(",")}`);
  assert.deepEqual(parsed.entities.find((entity) => entity.type === "pre"), { type: "pre", offset: parsed.text.indexOf("if (a"), length: "if (a < b && c > d) book();".length, language: "ts" });
});

test("WhatsApp gets its own markers; plain text drops them; links read as text (url)", () => {
  assert.equal(markdownToWhatsApp(REPLY), [
    "*Your booking*",
    "Booked *Amy* for _Friday_ at 3 pm — see the calendar (https://example.com/cal?a=1&b=2).",
    "",
    "- Haircut: `SVC-1` (30 min)",
    "- Price < $40 & tip ~included~",
    "1. Arrive early",
    "",
    "```if (a < b && c > d) book();```",
  ].join("\n"));
  assert.match(markdownToPlainText(REPLY), /^Your booking\nBooked Amy for Friday at 3 pm — see the calendar \(https:\/\/example\.com\/cal\?a=1&b=2\)\.\n\n• Haircut: SVC-1/);
});

test("what is not Markdown stays text: snake_case, lone stars, 2*3*4, unclosed markers, escaped markers", () => {
  const text = "call list_my_companies, 2*3*4 = 24, a * b, **unclosed and `open, \\*literal\\*";
  assert.equal(markdownToWhatsApp(text), "call list_my_companies, 2*3*4 = 24, a * b, **unclosed and `open, *literal*");
  assert.equal(parseTelegramHtml(markdownToTelegramHtml(text)).text, "call list_my_companies, 2*3*4 = 24, a * b, **unclosed and `open, *literal*");
});

test("every chunk of a split reply is valid HTML on its own, even when a code block or bold run is cut", () => {
  const code = Array.from({ length: 300 }, (_, index) => `line_${index} = a < b && c; // **not bold**`).join("\n");
  const reply = `**Intro** with <tags> & more\n\n\`\`\`py\n${code}\n\`\`\`\n\n**${"word ".repeat(900)}**`;
  const chunks = splitMessage(reply, 4096);
  assert.ok(chunks.length >= 3);
  for (const chunk of chunks) {
    const parsed = parseTelegramHtml(markdownToTelegramHtml(chunk)); // throws on a broken entity
    assert.ok(parsed.text.length <= 4096);
  }
});

test("whatever the model writes, the HTML is valid: 2,000 random strings of Markdown's characters all parse", () => {
  let seed = 18;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const alphabet = ["*", "**", "_", "__", "~~", "`", "```", "[", "]", "(", ")", "<", ">", "&", "#", "- ", "1. ", "> ", "\\", "\n", " ", "a", "b", "https://x.y/?q=1&r=<2>", "é", "😀"];
  for (let round = 0; round < 2000; round++) {
    const text = Array.from({ length: 1 + Math.floor(random() * 30) }, () => alphabet[Math.floor(random() * alphabet.length)]!).join("");
    assert.doesNotThrow(() => parseTelegramHtml(markdownToTelegramHtml(text)), `invalid HTML for ${JSON.stringify(text)}: ${markdownToTelegramHtml(text)}`);
  }
});

test("the Telegram fake refuses broken HTML with TDLib's messages", () => {
  assert.throws(() => parseTelegramHtml("<p>hi</p>"), /^Error: Unsupported start tag "p" at byte offset 0$/);
  assert.throws(() => parseTelegramHtml("<b>hi</i>"), /Unmatched end tag at byte offset 5, expected "<\/b>", found "<\/i>"/);
  assert.throws(() => parseTelegramHtml("<b>hi"), /Can't find end tag corresponding to start tag b/);
  assert.throws(() => parseTelegramHtml("a < b"), /Unsupported start tag "" at byte offset 2/);
  assert.deepEqual(parseTelegramHtml("x &amp; &foo; &#65;"), { text: "x & &foo; A", entities: [] });
});

async function telegramSetup(t: TestContext, reply: string) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault(() => ({ text: reply }));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, allowFrom: [1001] } },
  }));
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, TELEGRAM_BOT_TOKEN: telegram.token };
  const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  await eventually(async () => (await api(gateway.url, "/api/status", { token: TOKEN })).json.components.find((component: { name: string }) => component.name === "channel:telegram")?.state === "connected", 15_000, "telegram connected");
  return { telegram };
}

test("Telegram: the reply goes out with parse_mode HTML, and the fake parses bold, code block, link and list", async (t) => {
  const { telegram } = await telegramSetup(t, REPLY);
  telegram.pushMessage({ chatId: 1001, fromId: 1001, text: "book me" });
  await eventually(() => telegram.sent(1001).length === 1, 15_000, "the reply");
  const sent = telegram.sent(1001)[0]!;
  assert.equal(sent.parse_mode, "HTML");
  assert.match(sent.text, /<b>Amy<\/b>/);
  assert.match(sent.text, /<a href="https:\/\/example\.com\/cal\?a=1&amp;b=2">the calendar<\/a>/);
  assert.match(sent.text, /<pre><code class="language-ts">if \(a &lt; b/);
  assert.match(sent.text, /\n• Haircut/);
  const message = telegram.botMessages(1001)[0]!;
  assert.ok(message.entities?.some((entity) => entity.type === "text_link" && entity.url === "https://example.com/cal?a=1&b=2"));
  assert.ok(message.entities?.some((entity) => entity.type === "pre"));
});

test("Telegram: when it refuses the entities (400 can't parse entities), the same chunk goes out as plain text", async (t) => {
  const { telegram } = await telegramSetup(t, "**Booked** — see [the calendar](https://example.com/cal)");
  telegram.failNext("sendMessage", { status: 400, description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0" });
  telegram.pushMessage({ chatId: 1001, fromId: 1001, text: "book me" });
  await eventually(() => telegram.sent(1001).length === 1, 15_000, "the plain reply");
  const attempts = telegram.calls.filter((call) => call.method === "sendMessage");
  assert.equal(attempts.length, 2, "one refused HTML attempt, one plain");
  assert.equal(attempts[0]!.params.parse_mode, "HTML");
  const sent = telegram.sent(1001)[0]!;
  assert.equal(sent.parse_mode, undefined);
  assert.equal(sent.text, "Booked — see the calendar (https://example.com/cal)");
});

test("Discord: the reply's Markdown arrives unchanged (Discord renders it)", async (t) => {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault(() => ({ text: REPLY }));
  const guild = { id: "100000000000000001", name: "Salon", channels: [{ id: "200000000000000001", name: "general", type: 0 as const }] };
  const discord = await startDiscordFake({ guilds: [guild], heartbeatIntervalMs: 500 });
  t.after(() => discord.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { discord: { enabled: true, apiBase: discord.apiBase, groupPolicy: "open" } },
  }));
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, DISCORD_BOT_TOKEN: discord.token }, allowUnconfigured: false });
  await eventually(async () => (await api(gateway.url, "/api/status", { token: TOKEN })).json.components.find((component: { name: string }) => component.name === "channel:discord")?.state === "connected", 15_000, "discord connected");
  discord.pushMessage({ channelId: guild.channels[0]!.id, authorId: "300000000000000001", content: "book me", mentionsBot: true });
  await eventually(() => discord.sentMessages(guild.channels[0]!.id).length === 1, 15_000, "the reply");
  assert.equal(discord.sentMessages(guild.channels[0]!.id)[0]!.content, REPLY);
});

test("WhatsApp: the peer decrypts the reply in WhatsApp's markers", async (t) => {
  const customer = "15557654321";
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault(() => ({ text: REPLY }));
  const fake = await startWhatsAppFake();
  t.after(() => fake.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { whatsapp: { enabled: true, webSocketUrl: fake.url, dmPolicy: "allowlist", allowFrom: [`+${customer}`] } },
  }));
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, NODE_OPTIONS: `--import ${join(REPO_ROOT, "tests/fakes/whatsapp-trust.ts")}` };
  const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  const login = async () => (await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json;
  assert.equal((await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN, method: "POST", body: {} })).status, 200);
  await eventually(async () => (await login()).qr !== null, 15_000, "a QR code");
  await fake.scanQr((await login()).qr);
  await eventually(async () => ((await api(gateway.url, "/api/channels", { token: TOKEN })).json.channels as Array<{ name: string; state: string }>).find((entry) => entry.name === "whatsapp")?.state === "connected", 20_000, "connected");
  await fake.sendText({ from: customer, text: "book me" });
  const reply = await fake.waitForMessage((message) => message.to.startsWith(customer), 20_000);
  assert.equal(reply.text, markdownToWhatsApp(REPLY));
  assert.match(reply.text, /^\*Your booking\*\nBooked \*Amy\* for _Friday_/);
  assert.match(reply.text, /\n```if \(a < b && c > d\) book\(\);```$/);
});
