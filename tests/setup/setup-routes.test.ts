import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { startDiscordFake } from "../fakes/discord-fake.ts";
import { FAVCRM_FAKE_DEFAULT_API_KEY, startFavcrmFake } from "../fakes/favcrm-fake.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "setup-routes-token-0123456789abcdef";

test("setup: a Discord token is checked with discord.js against the Discord fake; a FavCRM key only stays when an authenticated read works", async (t) => {
  const discord = await startDiscordFake();
  t.after(() => discord.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ channels: { discord: { apiBase: discord.apiBase } } }));
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, FAVCRM_MCP_URL: favcrm.url } });

  const wrongDiscord = await api(gateway.url, "/api/setup/channels/discord", { token: TOKEN, method: "POST", body: { token: "FAKE0000.not-the-token.wrong-wrong-wrong" } });
  assert.equal(wrongDiscord.status, 400);
  assert.equal(wrongDiscord.json.error.code, "CHANNEL_AUTH_FAILED");
  assert.match(wrongDiscord.json.error.message, /^Discord answered 401/);
  const rightDiscord = await api(gateway.url, "/api/setup/channels/discord", { token: TOKEN, method: "POST", body: { token: discord.token } });
  assert.equal(rightDiscord.status, 200, rightDiscord.text);
  assert.equal(rightDiscord.json.channel.credential.source, "secret-store");

  const wrongKey = "fav_mcp_not_the_right_key_0000";
  const refused = await api(gateway.url, "/api/setup/favcrm", { token: TOKEN, method: "POST", body: { apiKey: wrongKey } });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.code, "MCP_AUTH_FAILED");
  assert.match(refused.json.error.message, /Unauthorized/);
  assert.equal((await api(gateway.url, "/api/setup", { token: TOKEN })).json.favcrm.configured, false, "a refused key is not kept");
  const accepted = await api(gateway.url, "/api/setup/favcrm", { token: TOKEN, method: "POST", body: { apiKey: FAVCRM_FAKE_DEFAULT_API_KEY } });
  assert.equal(accepted.status, 200, accepted.text);
  assert.match(accepted.json.detail, /^connected, \d+ tools/);
  const setup = (await api(gateway.url, "/api/setup", { token: TOKEN })).json;
  assert.equal(setup.favcrm.configured, true);
  assert.equal(setup.favcrm.authSource, "secret store");

  const file = await readFile(join(stateDir, "openclaw.json"), "utf8");
  for (const secret of [discord.token, FAVCRM_FAKE_DEFAULT_API_KEY, wrongKey]) {
    assert.ok(!file.includes(secret) && !gateway.stdout().includes(secret) && !JSON.stringify(setup).includes(secret), "no credential in the file, the log or the API");
  }
  assert.equal((await api(gateway.url, "/api/setup/model", { method: "POST", body: { provider: "anthropic", apiKey: "x".repeat(20) } })).status, 401, "setup needs the token");
});
