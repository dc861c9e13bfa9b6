/**
 * Attacks on the running gateway, the way the outside review of issue 13 did: every route fastify
 * has registered (so a route added later is covered without touching this file) × path variants
 * a router may decode to the same route, without a credential, with a wrong one, with a cookie but
 * no Origin; Host names a DNS-rebinding page would send; the failure limiter; forged Telegram
 * webhook updates. The number of attempts per class is printed at the end.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { AttemptTally, concretePath, pathVariants, rawRequest, type RawResponse } from "./attack-helpers.ts";
import { GATEWAY_TOKEN, startAttackTarget } from "./gateway-target.ts";

const tally = new AttemptTally();
after(() => console.log(tally.report("gateway attack attempts")));

const OWNER = 1001;
const WEBHOOK_SECRET = "security-test-webhook-secret-7c2d";
const PUBLIC_WEBHOOK_URL = "https://bot.example.test/channels/telegram/webhook";
const PARAMS = { name: "telegram", id: "nope" };
/** A body that would do harm on each kind of route if it got through: approve, run a tool, run a program. */
const HARMFUL_BODY = JSON.stringify({
  decision: "approve", yes: true, server: "favcrm", tool: "cancel_booking", arguments: {}, message: "hi", enabled: false,
  mcp: { servers: { pwn: { command: "sh", args: ["-c", "exit 0"] } } },
});

const withBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";

function send(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return withBody(method)
    ? rawRequest(port, method, path, { "content-type": "application/json", ...headers }, HARMFUL_BODY)
    : rawRequest(port, method, path, headers);
}

async function telegramTarget(t: Parameters<typeof startAttackTarget>[0]) {
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const target = await startAttackTarget(t, {
    config: {
      agents: { list: [{ id: "main", default: true }] },
      channels: { telegram: { enabled: true, apiRoot: telegram.url, allowFrom: [OWNER], webhook: { url: PUBLIC_WEBHOOK_URL, secret: WEBHOOK_SECRET } } },
    },
    env: { TELEGRAM_BOT_TOKEN: telegram.token },
  });
  await eventually(() => telegram.webhookUrl === PUBLIC_WEBHOOK_URL, 15_000, "the gateway to set its Telegram webhook");
  return { target, telegram };
}

test("every registered route under every path variant answers, without a credential, what its plain path answers: never 2xx where the token is needed", async (t) => {
  const { target } = await telegramTarget(t);
  const routes = target.gateway.routes();
  const guarded = routes.filter((route) => route.access === "credential");
  // The enumeration comes from fastify's onRoute: make sure it saw the routes the review used.
  for (const [method, url] of [["GET", "/api/status"], ["PUT", "/api/config"], ["POST", "/api/auth/login-code"], ["POST", "/api/mcp/call"], ["POST", "/api/channels/whatsapp/logout"], ["GET", "/metrics"]] as const) {
    assert.ok(guarded.some((route) => route.method === method && route.url === url), `${method} ${url} is registered and needs the token`);
  }
  assert.ok(routes.length >= 30, `only ${routes.length} routes enumerated`);
  const publicRoutes = routes.filter((route) => route.access === "public").map((route) => `${route.method} ${route.url}`).sort();
  assert.deepEqual(publicRoutes, [
    "GET /", "GET /auth/session", "GET /dashboard/*", "GET /favicon.ico", "GET /healthz", "GET /readyz",
    "HEAD /", "HEAD /auth/session", "HEAD /dashboard/*", "HEAD /favicon.ico", "HEAD /healthz", "HEAD /readyz",
    "POST /auth/login", "POST /auth/logout", "POST /channels/telegram/webhook",
  ], "a new public route is a decision: add it here on purpose");

  const failures: string[] = [];
  for (const route of routes) {
    const path = concretePath(route.url, PARAMS);
    const plain = await send(target.port, route.method, path);
    tally.add("plain path, no credential");
    if (route.access === "credential" && plain.status !== 401) failures.push(`${route.method} ${path}: plain ${plain.status}`);
    if (plain.status >= 500) failures.push(`${route.method} ${path}: plain ${plain.status}`);
    const { decodesToSame, other } = pathVariants(path);
    for (const variant of decodesToSame) {
      const response = await send(target.port, route.method, variant);
      tally.add("percent-encoded path (each position, both hex cases, all at once)");
      if (response.status !== plain.status) failures.push(`${route.method} ${variant}: ${response.status}, plain ${plain.status}`);
      if (response.text.includes(GATEWAY_TOKEN) || response.text.includes(WEBHOOK_SECRET)) failures.push(`${route.method} ${variant}: a secret in the answer`);
    }
    for (const variant of other) {
      const response = await send(target.port, route.method, variant);
      tally.add("doubled slashes, /./, /x/../, case, %00, %2F, suffixes");
      const acceptable = response.status === plain.status || response.status === 404 || response.status === 400;
      if (!acceptable || response.status >= 500 || (route.access === "credential" && response.status < 400)) {
        failures.push(`${route.method} ${variant}: ${response.status}, plain ${plain.status}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test("on every route that needs the token: a wrong token is refused, and a cookie alone (no Origin, another Origin, cross-site) cannot change anything", async (t) => {
  const target = await startAttackTarget(t);
  const cookie = await target.signIn();
  const guarded = target.gateway.routes().filter((route) => route.access === "credential");
  const failures: string[] = [];
  for (const route of guarded) {
    const path = concretePath(route.url, PARAMS);
    const wrong = await send(target.port, route.method, path, { authorization: "Bearer not-the-gateway-token-0000" });
    tally.add("wrong token");
    if (wrong.status !== 401 && wrong.status !== 429) failures.push(`${route.method} ${path} wrong token: ${wrong.status}`);
    const lowercase = await send(target.port, route.method, path, { authorization: `bearer${GATEWAY_TOKEN}` });
    tally.add("malformed Authorization");
    if (lowercase.status !== 401 && lowercase.status !== 429) failures.push(`${route.method} ${path} malformed bearer: ${lowercase.status}`);
    if (route.method === "GET" || route.method === "HEAD") continue;
    const foreign: Array<Record<string, string>> = [{}, { origin: "https://evil.example" }, { origin: "null" }, { "sec-fetch-site": "cross-site", origin: "https://evil.example" }, { "sec-fetch-site": "same-site" }];
    for (const headers of foreign) {
      const response = await send(target.port, route.method, path, { cookie, ...headers });
      tally.add("cookie without this origin");
      if (response.status !== 403) failures.push(`${route.method} ${path} cookie ${JSON.stringify(headers)}: ${response.status}`);
    }
  }
  assert.deepEqual(failures, []);
  const owner = await send(target.port, "GET", "/api/status", { cookie });
  assert.equal(owner.status, 200, "the same cookie reads fine: the refusals above were about the origin");
});

test("on a loopback bind only 127.0.0.1:PORT, localhost:PORT and [::1]:PORT are answered (421 otherwise, token or not); on a LAN bind any Host is", async (t) => {
  const target = await startAttackTarget(t, { config: { gateway: { publicUrl: "https://tunnel.example.test" } } });
  const port = target.port;
  const authorization = `Bearer ${GATEWAY_TOKEN}`;
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, "tunnel.example.test"]) {
    const response = await rawRequest(port, "GET", "/api/status", { host, authorization });
    tally.add("Host variants");
    assert.equal(response.status, 200, `Host ${host}`);
  }
  for (const host of [`evil.example:${port}`, "evil.example", "127.0.0.1", "localhost", `127.0.0.1:${port + 1}`, `127.0.0.1.nip.io:${port}`, `localhost.evil.example:${port}`, `[::ffff:127.0.0.1]:${port}`, `0.0.0.0:${port}`, `127.0.0.1:${port}@evil.example`]) {
    for (const path of ["/api/status", "/", "/healthz", "/auth/session"]) {
      const response = await rawRequest(port, "GET", path, { host, authorization });
      tally.add("Host variants");
      assert.equal(response.status, 421, `Host ${host} ${path}: ${response.status}`);
      assert.equal(JSON.parse(response.text).error.code, "HOST_NOT_ALLOWED");
    }
  }
  const lan = await startAttackTarget(t, { bind: "lan" });
  for (const host of ["faraday-app.fly.dev", `evil.example:${lan.port}`]) {
    const response = await rawRequest(lan.port, "GET", "/api/status", { host, authorization });
    tally.add("Host variants");
    assert.equal(response.status, 200, `LAN bind, Host ${host}`);
    const noToken = await rawRequest(lan.port, "GET", "/api/status", { host });
    tally.add("Host variants");
    assert.equal(noToken.status, 401, "any Host, but the token is still needed");
  }
});

test("after 20 failed guesses from one address the owner's token and cookie still get 200; guesses get 429, and rotating X-Forwarded-For changes nothing", async (t) => {
  // A LAN bind (as on Fly): where a proxy could be in front, and where X-Forwarded-For used to be read.
  const target = await startAttackTarget(t, { bind: "lan" });
  const cookie = await target.signIn();
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const guess = await rawRequest(target.port, "GET", "/api/status", { authorization: `Bearer guess-${attempt}`, "x-forwarded-for": `198.51.100.${attempt + 1}` });
    tally.add("limiter: failed guesses (rotating X-Forwarded-For)");
    statuses.push(guess.status);
  }
  assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(10).fill(429)], "a new X-Forwarded-For per guess is the same socket address");
  const login = await rawRequest(target.port, "POST", "/auth/login", { "content-type": "application/json", "x-forwarded-for": "203.0.113.50" }, JSON.stringify({ token: "another-guess" }));
  tally.add("limiter: failed guesses (rotating X-Forwarded-For)");
  assert.equal(login.status, 429, "sign-in guesses share the count");
  const owner = await rawRequest(target.port, "GET", "/api/status", { authorization: `Bearer ${GATEWAY_TOKEN}` });
  tally.add("limiter: the owner after the failures");
  assert.equal(owner.status, 200, owner.text);
  const withCookie = await rawRequest(target.port, "GET", "/api/status", { cookie });
  tally.add("limiter: the owner after the failures");
  assert.equal(withCookie.status, 200, withCookie.text);
  const signIn = await rawRequest(target.port, "POST", "/auth/login", { "content-type": "application/json" }, JSON.stringify({ token: GATEWAY_TOKEN }));
  tally.add("limiter: the owner after the failures");
  assert.equal(signIn.status, 200, "the dashboard sign-in with the right token works too");
  const stillGuessing = await rawRequest(target.port, "GET", "/api/status", { authorization: "Bearer guess-after-owner" });
  assert.equal(stillGuessing.status, 429, "the owner's success does not reset the attacker's count");
});

test("Fly-Client-IP decides the address only when trustProxy is on; without it the header is ignored", async (t) => {
  const guess = (port: number, client: string) => rawRequest(port, "GET", "/api/status", { authorization: "Bearer wrong-guess", "fly-client-ip": client });
  const untrusted = await startAttackTarget(t);
  for (let attempt = 0; attempt < 10; attempt++) await guess(untrusted.port, "203.0.113.7");
  tally.add("limiter: Fly-Client-IP", 10);
  assert.equal((await guess(untrusted.port, "203.0.113.8")).status, 429, "a forged Fly-Client-IP does not buy a fresh count");
  tally.add("limiter: Fly-Client-IP");

  const behindFly = await startAttackTarget(t, { bind: "lan", env: { OPENCLAW_GATEWAY_TRUST_PROXY: "true" } });
  for (let attempt = 0; attempt < 10; attempt++) await guess(behindFly.port, "203.0.113.7");
  tally.add("limiter: Fly-Client-IP", 10);
  assert.equal((await guess(behindFly.port, "203.0.113.7")).status, 429);
  assert.equal((await guess(behindFly.port, "203.0.113.8")).status, 401, "another client behind Fly's proxy is not locked out");
  const rotated = await rawRequest(behindFly.port, "GET", "/api/status", { authorization: "Bearer wrong-guess", "fly-client-ip": "203.0.113.7", "x-forwarded-for": "198.51.100.1" });
  assert.equal(rotated.status, 429, "X-Forwarded-For is not read even behind Fly");
  tally.add("limiter: Fly-Client-IP", 3);

  const fromConfig = await startAttackTarget(t, { bind: "lan", config: { gateway: { trustProxy: true } } });
  for (let attempt = 0; attempt < 10; attempt++) await guess(fromConfig.port, "203.0.113.7");
  assert.equal((await guess(fromConfig.port, "203.0.113.8")).status, 401, "gateway.trustProxy in openclaw.json does the same");
  tally.add("limiter: Fly-Client-IP", 11);
});

test("a forged Telegram webhook update is refused without the secret or with a wrong one; with the secret it is accepted", async (t) => {
  const { target, telegram } = await telegramTarget(t);
  const url = `http://127.0.0.1:${target.port}/channels/telegram/webhook`;
  const update = (id: number, text: string) => ({
    update_id: id,
    message: { message_id: id, date: 0, chat: { id: OWNER, type: "private", first_name: "O" }, from: { id: OWNER, is_bot: false, first_name: "O" }, text },
  });
  const forged = await rawRequest(target.port, "POST", "/channels/telegram/webhook", { "content-type": "application/json" }, JSON.stringify(update(1, "YES")));
  tally.add("forged webhook");
  assert.equal(forged.status, 401, forged.text);
  // (A trailing space is not a different secret: HTTP strips it from every header value.)
  for (const secret of ["", "wrong", WEBHOOK_SECRET.toUpperCase(), `${WEBHOOK_SECRET}x`, WEBHOOK_SECRET.slice(0, -1)]) {
    assert.equal(await telegram.webhookPost(url, update(2, "YES") as never, secret), 401, `secret ${JSON.stringify(secret)}`);
    tally.add("forged webhook");
  }
  assert.equal(await telegram.webhookPost(url, update(3, "hello") as never, WEBHOOK_SECRET), 200);
  tally.add("webhook with the secret");
  // The genuine update is answered (the model is unreachable, so the answer says so); once it is,
  // the forged ones before it would have been answered too had they got through.
  await eventually(() => telegram.sent(OWNER).length >= 1, 15_000, "the answer to the genuine update");
  assert.equal(telegram.sent(OWNER).length, 1, "only the genuine update reached the agent");
});
