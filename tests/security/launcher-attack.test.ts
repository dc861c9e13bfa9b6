/**
 * Attacks on the running launcher (in this process, listening on 127.0.0.1:0, so fastify can
 * list its routes): every route × path variants without the session cookie, a forged cookie,
 * another launcher's cookie, foreign Origins and Hosts. The attacker is any local process (or a
 * page in the user's browser): it can send any header, but does not have the printed token.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test, type TestContext } from "node:test";
import { writeDeployRecord } from "../../src/deploy/fly/deploy-store.ts";
import { registeredRoutes } from "../../src/http/index.ts";
import { startLauncher } from "../../src/launcher/start-launcher.ts";
import { LauncherStore } from "../../src/launcher/launcher-store.ts";
import { AttemptTally, concretePath, pathVariants, rawRequest, type RawResponse } from "./attack-helpers.ts";

const tally = new AttemptTally();
after(() => console.log(tally.report("launcher attack attempts")));

const APP = "attack-target-app";
const DEPLOYED_TOKEN = "deployed-gateway-token-never-leaks-8a7b6c";

async function launcher(t: TestContext) {
  const home = await mkdtemp(join(tmpdir(), "faraday-launcher-attack-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  const env = { HOME: home, FARADAY_HOME: join(home, ".faraday"), PATH: "/nonexistent" };
  // A launched instance whose gateway token this computer keeps: what dashboard-link hands out.
  await new LauncherStore(join(home, ".faraday")).upsert({ app: APP, region: "iad", memoryMb: 256, url: "http://127.0.0.1:9", createdAt: new Date().toISOString() });
  await writeDeployRecord(env, { app: APP, gatewayToken: DEPLOYED_TOKEN, region: "iad", memoryMb: 256 });
  const running = await startLauncher({ port: 0, env, instanceUrlTemplate: "http://127.0.0.1:9", log: () => {} });
  t.after(() => running.close());
  const token = new URL(running.url).hash.slice("#t=".length);
  const origin = `http://127.0.0.1:${running.port}`;
  const signIn = async () => {
    const response = await rawRequest(running.port, "POST", "/api/session", { "content-type": "application/json", origin }, JSON.stringify({ token }));
    assert.equal(response.status, 200, response.text);
    return String(response.headers["set-cookie"]).split(";")[0]!;
  };
  return { running, port: running.port, origin, signIn, routes: registeredRoutes(running.app) };
}

const withBody = (method: string) => method === "POST" || method === "PUT" || method === "DELETE";
const BODY = JSON.stringify({ app: APP, confirm: APP, region: "iad", modelKey: "sk-attacker" });

function send(port: number, method: string, path: string, headers: Record<string, string>): Promise<RawResponse> {
  return withBody(method) ? rawRequest(port, method, path, { "content-type": "application/json", ...headers }, BODY) : rawRequest(port, method, path, headers);
}

test("every launcher route under every path variant answers without the cookie what its plain path answers: never 2xx where the cookie is needed, never a gateway token", async (t) => {
  const { port, origin, routes } = await launcher(t);
  const guarded = routes.filter((route) => route.access === "credential");
  for (const [method, url] of [["GET", "/api/instances"], ["POST", "/api/instances/:app/dashboard-link"], ["POST", "/api/launch"], ["POST", "/api/instances/:app/destroy"]] as const) {
    assert.ok(guarded.some((route) => route.method === method && route.url === url), `${method} ${url} needs the cookie`);
  }
  assert.deepEqual(routes.filter((route) => route.access === "public" && route.url.startsWith("/api")).map((route) => `${route.method} ${route.url}`), ["POST /api/session"]);
  const failures: string[] = [];
  for (const route of routes) {
    const path = concretePath(route.url, { app: APP, id: "nope" });
    // The launcher's own Origin: a local process can send it; only the cookie it lacks stops it.
    const headers = { origin };
    const plain = await send(port, route.method, path, headers);
    tally.add("plain path, no cookie");
    if (route.access === "credential" && plain.status !== 401) failures.push(`${route.method} ${path}: plain ${plain.status}`);
    const { decodesToSame, other } = pathVariants(path);
    for (const variant of decodesToSame) {
      const response = await send(port, route.method, variant, headers);
      tally.add("percent-encoded path (each position, both hex cases, all at once)");
      if (response.status !== plain.status) failures.push(`${route.method} ${variant}: ${response.status}, plain ${plain.status}`);
      if (response.text.includes(DEPLOYED_TOKEN)) failures.push(`${route.method} ${variant}: the deployed gateway's token in the answer`);
    }
    for (const variant of other) {
      const response = await send(port, route.method, variant, headers);
      tally.add("doubled slashes, /./, /x/../, case, %00, %2F, suffixes");
      const acceptable = response.status === plain.status || response.status === 404 || response.status === 400;
      if (!acceptable || response.status >= 500 || (route.access === "credential" && response.status < 400)) failures.push(`${route.method} ${variant}: ${response.status}, plain ${plain.status}`);
      if (response.text.includes(DEPLOYED_TOKEN)) failures.push(`${route.method} ${variant}: the deployed gateway's token in the answer`);
    }
  }
  assert.deepEqual(failures, []);
});

test("a forged cookie, another launcher's cookie, a foreign Origin or a foreign Host gets nothing from the launcher", async (t) => {
  const { port, origin, signIn, routes } = await launcher(t);
  const cookie = await signIn();
  const value = cookie.split("=")[1]!;
  const guarded = routes.filter((route) => route.access === "credential");
  const failures: string[] = [];
  for (const route of guarded) {
    const path = concretePath(route.url, { app: APP, id: "nope" });
    for (const forged of [`faraday_launcher_${port}=guess`, `faraday_launcher_${port + 1}=${value}`, `faraday_session=${value}`, `faraday_launcher_${port}=${value.slice(0, -2)}`]) {
      const response = await send(port, route.method, path, { origin, cookie: forged });
      tally.add("forged or foreign cookie");
      if (response.status !== 401) failures.push(`${route.method} ${path} cookie ${forged.split("=")[0]}: ${response.status}`);
    }
    if (withBody(route.method)) {
      const foreignOrigins: Array<Record<string, string>> = [{ origin: "https://evil.example" }, { origin: "null" }, {}];
      for (const foreign of foreignOrigins) {
        const response = await send(port, route.method, path, { cookie, ...foreign });
        tally.add("cookie with a foreign Origin");
        if (response.status !== 403) failures.push(`${route.method} ${path} origin ${JSON.stringify(foreign)}: ${response.status}`);
      }
    }
    for (const host of [`evil.example:${port}`, "127.0.0.1", `[::1]:${port}`, `127.0.0.1.nip.io:${port}`]) {
      const response = await send(port, route.method, path, { host, origin, cookie });
      tally.add("Host variants");
      if (response.status !== 421) failures.push(`${route.method} ${path} Host ${host}: ${response.status}`);
    }
  }
  assert.deepEqual(failures, []);
  const link = await send(port, "POST", `/api/instances/${APP}/dashboard-link`, { origin, cookie });
  assert.equal(link.status, 200, "with the real cookie and Origin the owner gets the link: the refusals above were the guards");
  assert.ok(link.text.includes(encodeURIComponent(DEPLOYED_TOKEN)));
});
