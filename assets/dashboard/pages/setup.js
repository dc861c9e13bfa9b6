// Guided setup: model, channels, FavCRM, a first hello. Every step can be skipped and re-run;
// credentials go to the gateway's secret store after one real call checks them.
import { api } from "../api.js";
import { badge, busy, errorAlert, field, h, okAlert, replace } from "../dom.js";

export const title = "Setup";

const LINKING = ["starting", "qr", "pairing_code"];

/** One numbered step: a heading with its state, what it is for, its form, and Skip. */
function step(number, name, state, intro, ...body) {
  const id = `setup-step-${number}`;
  return h("section", { class: "panel setup-step", "aria-labelledby": id },
    h("h2", { id, tabindex: "-1" }, `${number}. ${name} `, state ? badge(state) : null),
    h("p", { class: "muted small" }, intro),
    ...body);
}

/** Go on to step `target` without doing this one (the hash is the router's, so no #anchor link). */
function skipLink(target, text = "Skip for now") {
  return h("button", {
    type: "button", class: "quiet skip",
    onclick: () => {
      const heading = document.getElementById(`setup-step-${target}`);
      heading?.scrollIntoView({ block: "start", behavior: "smooth" });
      heading?.focus({ preventScroll: true });
    },
  }, text);
}

export async function render(container, page) {
  const top = h("div", { "aria-live": "polite" });
  const steps = h("div");
  replace(container, h("h1", {}, "Setup"),
    h("p", { class: "muted" }, "Four short steps. Keys are checked with one real call, then kept in the gateway's secret store — never in openclaw.json. Skip anything and come back here later."),
    top, steps);

  let setup;
  try {
    setup = await api("/api/setup");
  } catch (error) {
    return replace(top, errorAlert(error));
  }
  if (page?.left) return;

  // 1. Model
  const provider = h("select", { id: "setup-provider", name: "provider" },
    h("option", { value: "anthropic" }, "Anthropic (Claude)"),
    h("option", { value: "openai" }, "OpenAI (GPT)"));
  const providerField = h("div", { class: "field" }, h("label", { for: "setup-provider" }, "Model provider"), provider);
  const key = field({ label: "Model API key", hint: "From console.anthropic.com or platform.openai.com → API keys.", type: "password", name: "apiKey", autocomplete: "off", spellcheck: "false" });
  const modelName = field({ label: "Model (optional)", hint: "Leave empty for the default (claude-sonnet-5-5 or gpt-4.1).", name: "model", spellcheck: "false" });
  const modelResult = h("div", { "aria-live": "polite" });
  const modelCheck = h("button", { type: "submit" }, "Check and save");
  const modelForm = h("form", {}, providerField, key.element, modelName.element, h("div", { class: "row" }, modelCheck, skipLink(2)), modelResult);
  modelForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(modelResult);
    await busy(modelCheck, async () => {
      const result = await api("/api/setup/model", { method: "POST", body: { provider: provider.value, apiKey: key.control.value, ...(modelName.control.value.trim() ? { model: modelName.control.value.trim() } : {}) } });
      key.control.value = "";
      replace(modelResult,
        okAlert(`${result.model} answered: “${result.answer}”`),
        (result.warnings ?? []).map((warning) => h("div", { class: "alert warn" }, warning)));
      modelState.replaceWith(modelState = badge("ready"));
      modelIntro.textContent = `Answering with ${result.model} (key in the secret store). Enter another key to replace it.`;
    }, modelResult);
  });
  let modelState = badge(setup.model.ready ? "ready" : "missing");
  const keySources = Object.entries(setup.model.keys ?? {}).filter(([, source]) => source).map(([name, source]) => `${name} key from ${source === "env" ? "the environment" : "the secret store"}`);
  const modelIntro = h("p", { class: "muted small" }, setup.model.ready ? `Answering with ${setup.model.model}${keySources.length ? ` (${keySources.join(", ")})` : ""}. Enter another key to replace it.` : `No model works yet: ${setup.model.reason ?? "enter a key"}`);
  const modelStep = h("section", { class: "panel setup-step", "aria-labelledby": "setup-step-1" },
    h("h2", { id: "setup-step-1", tabindex: "-1" }, "1. Model ", modelState), modelIntro, modelForm);

  // 2. Channels
  const channelState = (name) => setup.channels.find((channel) => channel.name === name);
  const tokenStep = (name, label, hint) => {
    const token = field({ label, hint, type: "password", name: `${name}Token`, autocomplete: "off", spellcheck: "false" });
    const result = h("div", { "aria-live": "polite" });
    const check = h("button", { type: "submit" }, `Check and connect ${name === "telegram" ? "Telegram" : "Discord"}`);
    const form = h("form", { class: "subform" }, token.element, h("div", { class: "row" }, check), result);
    const current = channelState(name);
    let state = badge(current?.state ?? "disabled");
    const showState = (channel) => {
      if (!channel) return;
      const next = badge(channel.state);
      state.replaceWith(next);
      state = next;
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      replace(result);
      await busy(check, async () => {
        const answer = await api(`/api/setup/channels/${name}`, { method: "POST", body: { token: token.control.value } });
        token.control.value = "";
        replace(result, okAlert(`${name === "telegram" ? "Telegram" : "Discord"} accepted the token: ${answer.detail}. The channel is connecting.`),
          (answer.warnings ?? []).map((warning) => h("div", { class: "alert warn" }, warning)));
        showState(answer.channel);
        // Follow the channel until it is up (or says why not).
        page?.every?.(1000, async () => {
          const channel = (await api("/api/channels")).channels.find((entry) => entry.name === name);
          showState(channel);
          return !["connected", "failed", "logged_out"].includes(channel?.state);
        });
      }, result);
    });
    return h("div", {}, h("h3", {}, name === "telegram" ? "Telegram " : "Discord ", state),
      current?.credential?.source ? h("p", { class: "small muted" }, `Token ${current.credential.hint} from ${current.credential.source}.`) : null, form);
  };
  const qr = h("div", { "aria-live": "polite" });
  const whatsappButton = h("button", { type: "button", class: "quiet" }, "Show the WhatsApp QR code");
  whatsappButton.addEventListener("click", async () => {
    await busy(whatsappButton, async () => {
      const showLogin = (login) => {
        if (login.state === "linked") return replace(qr, okAlert(`WhatsApp is linked${login.account ? ` as ${login.account}` : ""}.`));
        if (login.qrDataUrl) return replace(qr, h("p", { class: "small" }, "WhatsApp → Settings → Linked devices → Link a device, then scan:"), h("img", { class: "qr", src: login.qrDataUrl, alt: "WhatsApp link QR code", width: 264, height: 264 }));
        if (login.reason) return replace(qr, errorAlert({ message: login.reason }));
        replace(qr, h("p", { class: "small" }, "Linking: ", badge(login.state)));
      };
      showLogin(await api("/api/channels/whatsapp/login", { method: "POST", body: {} }));
      page?.every?.(2000, async () => {
        const login = await api("/api/channels/whatsapp/login");
        showLogin(login);
        return LINKING.includes(login.state);
      });
    }, qr);
  });
  const channelsStep = step(2, "Channels", setup.channels.some((channel) => channel.state === "connected") ? "connected" : undefined,
    "Where people reach your agent. Add any of them now or later (the Channels page has the same and more).",
    tokenStep("telegram", "Telegram bot token", "Talk to @BotFather, /newbot, and paste the token it gives you."),
    tokenStep("discord", "Discord bot token", "Developer Portal → your app → Bot → Reset Token."),
    h("h3", {}, "WhatsApp ", badge(channelState("whatsapp")?.state ?? "disabled")), whatsappButton, qr,
    h("p", {}, skipLink(3)));

  // 3. FavCRM
  const favcrmKey = field({ label: "FavCRM API key", hint: "FavCRM → Settings → API keys (fav_mcp_…). No account? Ask the agent in chat to sign your business up.", type: "password", name: "favcrmKey", autocomplete: "off", spellcheck: "false" });
  const favcrmResult = h("div", { "aria-live": "polite" });
  const favcrmCheck = h("button", { type: "submit" }, "Check and save");
  const favcrmForm = h("form", {}, favcrmKey.element, h("div", { class: "row" }, favcrmCheck, skipLink(4)), favcrmResult);
  favcrmForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(favcrmResult);
    await busy(favcrmCheck, async () => {
      const answer = await api("/api/setup/favcrm", { method: "POST", body: { apiKey: favcrmKey.control.value } });
      favcrmKey.control.value = "";
      replace(favcrmResult, okAlert(`FavCRM ${answer.detail}.`));
    }, favcrmResult);
  });
  const favcrmStep = step(3, "FavCRM", setup.favcrm.configured ? setup.favcrm.state : undefined,
    "Bookings, customers and invoices for your agent to work with.", favcrmForm);

  // 4. Say hello
  const helloResult = h("div", { "aria-live": "polite" });
  const hello = h("button", { type: "button" }, "Say hello");
  hello.addEventListener("click", async () => {
    replace(helloResult);
    await busy(hello, async () => {
      const answer = await api("/api/chat", { method: "POST", body: { text: "Hello!" } });
      replace(helloResult, h("div", { class: "hello-log" }, h("div", { class: "bubble user" }, "Hello!"), h("div", { class: "bubble assistant" }, answer.reply)),
        h("p", {}, h("a", { href: "#chat" }, "Continue in Chat")));
    }, helloResult);
  });
  const helloStep = step(4, "Say hello", setup.chat.used ? "ok" : undefined, "A first message in the web chat, through the model you set up.", h("div", { class: "row" }, hello), helloResult);

  replace(steps, modelStep, channelsStep, favcrmStep, helloStep);
  if (!setup.model.ready) key.control.focus();
}
