import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } from "../fakes/favcrm-fake.ts";
import { toolResults } from "../fakes/model-script.ts";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { eventually } from "../helpers/agent-harness.ts";

const TOKEN = "test-gateway-token-0123456789";
const OWNER = 1001;

test("Telegram: '好不好' to a pending void_invoice is asked again once with the Yes/No buttons; '是不是' next is no answer; only 'yes' runs it", async (t) => {
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_9", reason: "duplicate" } }] },
    (request) => ({ text: `Done: ${toolResults(request).at(-1)!.content.slice(0, 30)}` }),
  );
  // After the approval is decided, the queued '是不是' reaches the model as an ordinary message.
  model.setDefault({ text: "ordinary reply" });
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" } },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, allowFrom: [OWNER] } },
  }));
  await startGateway(t, stateDir, {
    allowUnconfigured: false,
    env: {
      OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url,
      TELEGRAM_BOT_TOKEN: telegram.token, FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY,
    },
  });
  const voided = () => favcrm.calls.filter((call) => call.tool === "void_invoice").length;
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "void invoice inv_9" });
  await eventually(() => telegram.sent(OWNER).some((message) => /Approval needed/.test(message.text)), 15_000, "the approval prompt");

  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "好不好" });
  await eventually(() => telegram.sent(OWNER).some((message) => /did not take that as an answer/.test(message.text)), 10_000, "the approval asked again");
  const again = telegram.sent(OWNER).find((message) => /did not take that as an answer/.test(message.text))!;
  assert.match(again.text, /favcrm__void_invoice/);
  const buttons = again.reply_markup.inline_keyboard[0] as Array<{ text: string; callback_data: string }>;
  assert.deepEqual(buttons.map((button) => button.text), ["Yes, go ahead", "No"]);
  assert.equal(voided(), 0, "'好不好' approved nothing");

  // Asked once already: this one is not an answer; it waits in the chat's lane behind the paused turn.
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "是不是" });
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "yes" });
  await eventually(() => telegram.sent(OWNER).some((message) => /^Approved/.test(message.text)), 10_000, "the yes acknowledged");
  await eventually(() => telegram.sent(OWNER).some((message) => message.text === "ordinary reply"), 15_000, "'是不是' answered as an ordinary message");
  assert.equal(voided(), 1, "one call, after the clear yes");
  assert.equal(telegram.sent(OWNER).filter((message) => /did not take that as an answer/.test(message.text)).length, 1, "asked again once, not twice");
  const userTexts = model.requests.map((request) => JSON.stringify(request.body?.messages ?? []));
  assert.ok(userTexts.some((text) => text.includes("是不是")), "'是不是' reached the model as a message");
});
