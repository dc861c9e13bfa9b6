import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "dashboard-test-token-0123456789abcdef";

/** The `name=value` part of the session Set-Cookie. */
function sessionCookieOf(setCookie: string | null): string {
  const match = /faraday_session=([^;]*)/.exec(setCookie ?? "");
  assert.ok(match, `no session cookie in ${setCookie}`);
  return `faraday_session=${match[1]}`;
}

async function signIn(url: string, body: Record<string, string> = { token: TOKEN }) {
  const origin = new URL(url).origin;
  const login = await api(url, "/auth/login", { method: "POST", body, headers: { origin } });
  assert.equal(login.status, 200, login.text);
  return { cookie: sessionCookieOf(login.headers.get("set-cookie")), login, origin };
}

async function gateway(t: TestContext, stateDir?: string, env: Record<string, string> = { OPENCLAW_GATEWAY_TOKEN: TOKEN }, args: string[] = []) {
  const directory = stateDir ?? (await tempStateDir(t));
  return { stateDir: directory, ...(await startGateway(t, directory, { env, args })) };
}

test("signing in with the right token sets an httpOnly, SameSite=Strict session cookie that opens /api/*", async (t) => {
  const { url } = await gateway(t);
  assert.deepEqual((await api(url, "/auth/session")).json, { signedIn: false });
  const { cookie, login } = await signIn(url);
  const setCookie = login.headers.get("set-cookie")!;
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.match(setCookie, /Path=\//);
  assert.doesNotMatch(setCookie, /Secure/, "plain http on loopback: no Secure flag, or the browser would drop it");
  assert.ok(!login.text.includes(TOKEN));
  const status = await api(url, "/api/status", { headers: { cookie } });
  assert.equal(status.status, 200);
  assert.equal(status.json.name, "faraday");
  assert.deepEqual((await api(url, "/auth/session", { headers: { cookie } })).json, { signedIn: true });
  const forged = await api(url, "/api/status", { headers: { cookie: cookie.slice(0, -3) + "AAA" } });
  assert.equal(forged.status, 401);
});

test("wrong tokens and used-up codes are 401 and count toward the 429 limit; the right token is never refused", async (t) => {
  const { url } = await gateway(t);
  const wrong = await api(url, "/auth/login", { method: "POST", body: { token: "not-it" } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error.code, "AUTH_INVALID");
  assert.equal(wrong.headers.get("set-cookie"), null);
  assert.equal((await api(url, "/auth/login", { method: "POST", body: {} })).status, 400);
  const statuses = [wrong.status];
  for (let attempt = 0; attempt < 10; attempt++) {
    statuses.push((await api(url, "/auth/login", { method: "POST", body: attempt % 2 ? { token: `guess-${attempt}` } : { code: `code-${attempt}` } })).status);
  }
  assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
  assert.equal(statuses[10], 429);
  const limited = await api(url, "/auth/login", { method: "POST", body: { token: "still-guessing" } });
  assert.equal(limited.status, 429, "further wrong guesses wait out the window");
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  const guessedBearer = await api(url, "/metrics", { headers: { authorization: "Bearer still-guessing" } });
  assert.equal(guessedBearer.status, 429, "the limit covers the bearer routes too");
  const owner = await api(url, "/auth/login", { method: "POST", body: { token: TOKEN } });
  assert.equal(owner.status, 200, "the owner's right token signs in regardless of the failures");
  assert.equal((await api(url, "/metrics", { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
});

test("a cookie-authenticated change from another origin is refused (CSRF); from the page's own origin it goes through", async (t) => {
  const { url } = await gateway(t);
  const { cookie, origin } = await signIn(url);
  const body = { decision: "approve" };
  const crossSite = await api(url, "/api/approvals/nope", { method: "POST", body, headers: { cookie, origin: "https://evil.example", "sec-fetch-site": "cross-site" } });
  assert.equal(crossSite.status, 403);
  assert.equal(crossSite.json.error.code, "AUTH_CROSS_ORIGIN");
  const otherOrigin = await api(url, "/api/config", { method: "PUT", body: {}, headers: { cookie, origin: "https://evil.example" } });
  assert.equal(otherOrigin.status, 403);
  const sameSite = await api(url, "/api/approvals/nope", { method: "POST", body, headers: { cookie, origin, "sec-fetch-site": "same-site" } });
  assert.equal(sameSite.status, 403, "a sibling subdomain is not this origin");
  const noEvidence = await api(url, "/api/approvals/nope", { method: "POST", body, headers: { cookie } });
  assert.equal(noEvidence.status, 403, "a cookie without Origin or Sec-Fetch-Site proves nothing");
  const sameOrigin = await api(url, "/api/approvals/nope", { method: "POST", body, headers: { cookie, origin, "sec-fetch-site": "same-origin" } });
  assert.equal(sameOrigin.status, 404, sameOrigin.text);
  assert.equal(sameOrigin.json.error.code, "APPROVAL_NOT_FOUND");
  const originOnly = await api(url, "/api/approvals/nope", { method: "POST", body, headers: { cookie, origin } });
  assert.equal(originOnly.status, 404);
  const reads = await api(url, "/api/approvals", { headers: { cookie, "sec-fetch-site": "cross-site" } });
  assert.equal(reads.status, 200, "reads are safe: SameSite=Strict keeps the cookie off cross-site requests anyway");
  const bearer = await api(url, "/api/approvals/nope", { method: "POST", body, headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(bearer.status, 404, "the CLI's bearer token needs no Origin");
  const crossLogin = await api(url, "/auth/login", { method: "POST", body: { token: TOKEN }, headers: { origin: "https://evil.example" } });
  assert.equal(crossLogin.status, 403);
});

test("signing out ends the session for good; the cookie no longer works", async (t) => {
  const { url } = await gateway(t);
  const { cookie, origin } = await signIn(url);
  assert.equal((await api(url, "/auth/logout", { method: "POST", body: {}, headers: { cookie, origin: "https://evil.example" } })).status, 403);
  const logout = await api(url, "/auth/logout", { method: "POST", body: {}, headers: { cookie, origin } });
  assert.equal(logout.status, 200);
  assert.match(logout.headers.get("set-cookie") ?? "", /faraday_session=;.*Max-Age=0/);
  const after = await api(url, "/api/status", { headers: { cookie } });
  assert.equal(after.status, 401);
  assert.match(after.json.error.message, /sign in again/);
  assert.deepEqual((await api(url, "/auth/session", { headers: { cookie } })).json, { signedIn: false });
});

test("faraday token --link prints a one-time link: its code signs in once, then never again", async (t) => {
  const { url, stateDir } = await gateway(t);
  const linked = await runToExit(t, ["token", "--link", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  assert.equal(linked.code, 0, linked.stderr);
  const match = new RegExp(`^${url.replace(/[.]/g, "\\.")}/#code=([A-Za-z0-9_-]{32})\\n$`).exec(linked.stdout);
  assert.ok(match, `unexpected link: ${linked.stdout}`);
  assert.ok(!linked.stdout.includes(TOKEN));
  const code = match[1]!;
  const { cookie } = await signIn(url, { code });
  assert.equal((await api(url, "/api/status", { headers: { cookie } })).status, 200);
  const again = await api(url, "/auth/login", { method: "POST", body: { code } });
  assert.equal(again.status, 401);
  assert.match(again.json.error.message, /faraday token --link/);
  const elsewhere = await runToExit(t, ["token", "--link", "--url", "http://127.0.0.1:9", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  assert.equal(elsewhere.code, 1, "--url names where the link points and which gateway makes the code: unreachable here");
  assert.match(elsewhere.stderr, /GATEWAY_UNREACHABLE/);
});

test("sessions survive a restart but not a token rotation; behind an https proxy the cookie is Secure", async (t) => {
  const stateDir = await tempStateDir(t);
  const first = await gateway(t, stateDir);
  const { cookie } = await signIn(first.url);
  first.kill("SIGTERM");
  await first.exited;
  const second = await gateway(t, stateDir);
  assert.equal((await api(second.url, "/api/status", { headers: { cookie } })).status, 200, "a restart (a deploy) signs no one out");
  second.kill("SIGTERM");
  await second.exited;
  const rotated = await gateway(t, stateDir, { OPENCLAW_GATEWAY_TOKEN: `${TOKEN}-rotated` }, ["--bind", "lan"]);
  assert.equal((await api(rotated.url, "/api/status", { headers: { cookie } })).status, 401, "a new token signs every browser out");
  const behindProxy = await api(rotated.url, "/auth/login", {
    method: "POST", body: { token: `${TOKEN}-rotated` }, headers: { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9" },
  });
  assert.equal(behindProxy.status, 200);
  assert.match(behindProxy.headers.get("set-cookie") ?? "", /; Secure/);
});

test("the token never appears in the page, its assets, any dashboard response or the log", async (t) => {
  const { url, stdout } = await gateway(t);
  const { cookie, login } = await signIn(url);
  const bodies = [login.text];
  const page = await api(url, "/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  assert.doesNotMatch(page.headers.get("content-security-policy") ?? "", /unsafe-inline/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  assert.doesNotMatch(page.text, /<script>|<style>|\son[a-z]+=/i, "no inline script, style or handler");
  bodies.push(page.text);
  const assetPaths = [...page.text.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((match) => match[1]!);
  const app = await api(url, "/dashboard/app.js");
  assert.match(app.headers.get("content-type") ?? "", /text\/javascript/);
  assetPaths.push(...[...app.text.matchAll(/import\("\.\/(pages\/[a-z]+\.js)"\)/g)].map((match) => `/dashboard/${match[1]}`));
  assert.ok(assetPaths.length >= 10, assetPaths.join(" "));
  for (const path of assetPaths) {
    const asset = await api(url, path);
    assert.equal(asset.status, 200, path);
    assert.doesNotMatch(asset.text, /https?:\/\/(?!127\.0\.0\.1|www\.w3\.org)/, `${path} loads nothing from elsewhere`);
    bodies.push(asset.text);
  }
  const cached = await api(url, "/dashboard/style.css", { headers: { "if-none-match": (await api(url, "/dashboard/style.css")).headers.get("etag")! } });
  assert.equal(cached.status, 304);
  assert.equal((await api(url, "/dashboard/../package.json")).status, 404);
  assert.equal((await api(url, "/dashboard/nope.js")).status, 404);
  for (const path of ["/api/status", "/api/config", "/auth/session", "/api/channels", "/api/sessions"]) bodies.push((await api(url, path, { headers: { cookie } })).text);
  bodies.push((await api(url, "/api/auth/login-code", { method: "POST", body: {}, headers: { cookie, origin: new URL(url).origin } })).text);
  for (const body of bodies) assert.ok(!body.includes(TOKEN), "a response carried the token");
  assert.ok(!stdout().includes(TOKEN), "the log carried the token");
});
