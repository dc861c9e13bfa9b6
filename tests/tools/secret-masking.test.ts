import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } from "../fakes/favcrm-fake.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { maskSecrets, restoreMaskedSecrets } from "../../src/config/index.ts";

const TOKEN = "test-gateway-token-0123456789";

/** Each literal secret the config holds, by where it sits. None may come back from the API. */
const LITERALS = {
  header: "literal-header-secret-0001",
  env: "literal-env-secret-0002",
  argEquals: "literal-arg-secret-0003",
  argNext: "literal-arg-secret-0004",
  userinfo: "literal-userinfo-secret-0005",
  query: "literal-query-secret-0006",
};
const QUERY_KEY = "fav_mcp_query_key_from_env_0007";
const AGENT_SECRET = "agentsecretvalue0008";

test("the API never shows a secret: /api/mcp/servers masks a resolved ?key=; /api/config masks headers, env, key args and URL userinfo/query; AGENT_NOT_FOUND never echoes a resolved ${env:…}; the masked config round-trips", async (t) => {
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  const config = {
    agents: { list: [{ id: "${env:AGENT_ID}", default: true }] },
    mcp: {
      servers: {
        // Resolved from the environment: the status API shows the resolved URL.
        crm: { url: `${favcrm.url}?key=\${env:CRM_QUERY_KEY}`, headers: { Authorization: `Bearer ${FAVCRM_FAKE_DEFAULT_API_KEY}`, "X-Tenant-Key": LITERALS.header } },
        // Never started (enabled: false): only its config is shown.
        tool: {
          command: "some-mcp-server",
          args: ["--port", "8080", `--api-key=${LITERALS.argEquals}`, "--api-key", LITERALS.argNext, "--verbose"],
          env: { SERVICE_SETTING: LITERALS.env },
          enabled: false,
        },
        remote: { url: `https://user:${LITERALS.userinfo}@mcp.example.invalid/mcp?token=${LITERALS.query}&region=eu`, enabled: false },
      },
    },
  };
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify(config));
  const gateway = await startGateway(t, stateDir, {
    allowUnconfigured: false,
    env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, CRM_QUERY_KEY: QUERY_KEY, AGENT_ID: AGENT_SECRET },
  });
  const secrets = [...Object.values(LITERALS), QUERY_KEY, AGENT_SECRET, FAVCRM_FAKE_DEFAULT_API_KEY];
  const leaks = (text: string) => secrets.filter((secret) => text.includes(secret));

  const servers = await api(gateway.url, "/api/mcp/servers", { token: TOKEN });
  assert.equal(servers.status, 200);
  assert.deepEqual(leaks(servers.text), []);
  const crm = servers.json.servers.find((server: { name: string }) => server.name === "crm");
  assert.equal(crm.state, "connected", crm.reason);
  assert.match(crm.url, /\?key=fav_mcp_\.\.\.0007$/);
  const remote = servers.json.servers.find((server: { name: string }) => server.name === "remote");
  assert.equal(remote.url, "https://user:literal-...0005@mcp.example.invalid/mcp?token=literal-...0006&region=****");

  const shown = await api(gateway.url, "/api/config", { token: TOKEN });
  assert.equal(shown.status, 200);
  assert.deepEqual(leaks(shown.text), []);
  const tool = shown.json.config.mcp.servers.tool;
  assert.deepEqual(tool.args, ["--port", "8080", "--api-key=literal-...0003", "--api-key", "literal-...0004", "--verbose"]);
  assert.equal(tool.env.SERVICE_SETTING, "literal-...0002");
  assert.equal(shown.json.config.mcp.servers.crm.headers["X-Tenant-Key"], "literal-...0001");
  assert.equal(shown.json.config.mcp.servers.crm.url, `${favcrm.url}?key=\${env:CRM_QUERY_KEY}`, "a reference is shown as written");
  assert.equal(shown.json.config.agents.list[0].id, "${env:AGENT_ID}");

  const missing = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "hi", agentId: "nobody" } });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, "AGENT_NOT_FOUND");
  assert.deepEqual(leaks(missing.text), []);
  assert.match(missing.json.error.message, /agents are \$\{env:AGENT_ID\}/);

  // What the dashboard does: GET, edit one thing, PUT back. Every masked value keeps its real one.
  const edited = structuredClone(shown.json.config);
  edited.mcp.servers.remote.enabled = false;
  edited.tools = { approvalTimeoutMs: 120_000 };
  const saved = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: edited });
  assert.equal(saved.status, 200, saved.text);
  assert.deepEqual(leaks(saved.text), []);
  const onDisk = JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8"));
  assert.deepEqual(onDisk.mcp, config.mcp, "the secrets on disk are the real ones");
  assert.equal(onDisk.tools.approvalTimeoutMs, 120_000);
});

test("maskSecrets masks by position as well as by key name, and restoreMaskedSecrets undoes exactly that", () => {
  const value = {
    apiKey: "sk-ant-api03-abcdefghijklmnop",
    headers: { "X-Anything": "header-value-123", Authorization: "Bearer ${env:KEY}" },
    env: { PLAIN: "x" },
    args: ["--token", "tok-abcdefghijklmnopqrstu", "--name", "visible", "--client-secret=abc", "-p", "visible-too"],
    url: "https://a:b@host.example/p?q=1#frag",
    text: "not a url ?key=x",
  };
  const masked = maskSecrets(value) as typeof value;
  assert.deepEqual(masked, {
    apiKey: "sk-ant-a...mnop",
    headers: { "X-Anything": "****", Authorization: "Bearer ${env:KEY}" },
    env: { PLAIN: "****" },
    args: ["--token", "tok-abcd...rstu", "--name", "visible", "--client-secret=****", "-p", "visible-too"],
    url: "https://a:****@host.example/p?q=****#frag",
    text: "not a url ?key=x",
  });
  assert.deepEqual(restoreMaskedSecrets(masked, value), value);
  const changed = { ...masked, args: [...masked.args.slice(0, 1), "new-token"] };
  assert.deepEqual((restoreMaskedSecrets(changed, value) as typeof value).args, ["--token", "new-token"], "a new value is kept");
});
