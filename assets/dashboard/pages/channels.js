import { api } from "../api.js";
import { badge, busy, errorAlert, field, h, okAlert, replace } from "../dom.js";

export const title = "Channels";

const KNOWN = ["telegram", "discord", "whatsapp"];
const LABELS = { telegram: "Telegram", discord: "Discord", whatsapp: "WhatsApp" };
/** Login states during which the QR or pairing code is live and worth polling for. */
const LINKING = ["starting", "qr", "pairing_code"];
const TOKEN_HELP = {
  telegram: "From @BotFather (/newbot). Looks like 123456789:AA…",
  discord: "Discord Developer Portal → your application → Bot → Reset Token.",
};
const SOURCES = { env: "environment variable", config: "openclaw.json", "secret-store": "secret store" };

function credentialText(channel) {
  const credential = channel.credential;
  if (credential === undefined) return null;
  if (!credential?.source) return channel.name === "whatsapp" ? "Not linked to a phone." : "No token set.";
  if (credential.source === "linked") return `Linked as ${credential.hint ?? "a phone"}.`;
  return `Token from the ${SOURCES[credential.source] ?? credential.source}${credential.hint ? ` (${credential.hint})` : ""}.`;
}

/** One channel's card. Its state line updates in place so a half-typed token survives a refresh. */
function channelCard(name, page) {
  const label = LABELS[name] ?? name;
  const messages = h("div", { "aria-live": "polite" });
  const state = h("span");
  const reason = h("p", { class: "small" });
  const credential = h("p", { class: "small muted" });
  const enabled = h("input", { type: "checkbox", id: `enabled-${name}` });
  enabled.addEventListener("change", async () => {
    enabled.disabled = true;
    replace(messages);
    try {
      await api(`/api/channels/${name}`, { method: "PUT", body: { enabled: enabled.checked } });
      replace(messages, okAlert(`${label} ${enabled.checked ? "enabled" : "disabled"}.`));
      await page.reload();
    } catch (error) {
      enabled.checked = !enabled.checked;
      replace(messages, errorAlert(error));
    } finally {
      enabled.disabled = false;
    }
  });
  const card = h("section", { class: "panel", "data-channel": name, "aria-labelledby": `heading-${name}` },
    h("div", { class: "row spread" }, h("h2", { id: `heading-${name}` }, label), state),
    reason, credential,
    h("label", { class: "check", for: `enabled-${name}` }, enabled, "Enabled"),
    messages);

  const linking = name === "whatsapp" ? whatsappLinking(page, messages) : undefined;
  card.append(linking ? linking.element : tokenForm(name, label, page, messages));

  return {
    card,
    update(channel) {
      replace(state, badge(channel.state));
      reason.textContent = channel.reason || "";
      const text = credentialText(channel);
      credential.textContent = text ?? "";
      credential.hidden = !text;
      if (document.activeElement !== enabled) enabled.checked = channel.enabled ?? channel.state !== "disabled";
      linking?.update(channel);
    },
  };
}

function tokenForm(name, label, page, messages) {
  const token = field({ label: `${label} bot token`, hint: TOKEN_HELP[name], type: "password", name: `${name}-token`, autocomplete: "off", spellcheck: "false" });
  const save = h("button", { type: "submit", class: "secondary" }, "Save token");
  const form = h("form", {}, token.element, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!token.control.value.trim()) {
      replace(messages, errorAlert({ message: `paste the ${label} bot token first` }));
      return token.control.focus();
    }
    await busy(save, async () => {
      const saved = await api(`/api/channels/${name}`, { method: "PUT", body: { token: token.control.value.trim() } });
      token.control.value = "";
      replace(messages, okAlert(`${label} token saved in the secret store; the channel restarts with it.`), saved?.warning ? h("div", { class: "alert info" }, saved.warning) : null);
      await page.reload();
    }, messages);
  });
  return form;
}

function whatsappLinking(page, messages) {
  const status = h("div", { "aria-live": "polite" });
  const picture = h("div");
  const phone = field({ label: "Phone number (optional)", hint: "With country code, e.g. +44 7700 900123: WhatsApp then gives a pairing code to type instead of a QR to scan.", type: "tel", name: "whatsapp-phone", autocomplete: "tel" });
  const start = h("button", { type: "submit", class: "secondary" }, "Start linking");
  const unlink = h("button", { type: "button", class: "danger" }, "Unlink");
  const form = h("form", {}, phone.element, h("div", { class: "row" }, start, unlink));
  let polling = false;

  const show = (login) => {
    const parts = [h("p", { class: "small" }, "Linking: ", badge(login.state))];
    if (login.pairingCode) {
      parts.push(h("p", {}, "On the phone: WhatsApp → Settings → Linked devices → Link a device → Link with phone number instead, then type:"),
        h("p", { class: "pairing-code", "aria-label": `Pairing code ${login.pairingCode.split("").join(" ")}` }, login.pairingCode));
    } else if (login.qrDataUrl) {
      parts.push(h("p", {}, "On the phone: WhatsApp → Settings → Linked devices → Link a device, and scan this. It refreshes as WhatsApp rotates it."),
        h("img", { class: "qr", src: login.qrDataUrl, alt: "WhatsApp link QR code", width: 264, height: 264 }));
    }
    replace(picture, parts);
  };

  const poll = () => {
    if (polling) return;
    polling = true;
    page.every(2000, async () => {
      try {
        const login = await api("/api/channels/whatsapp/login");
        replace(status);
        if (LINKING.includes(login.state)) {
          show(login);
          return true;
        }
        if (login.state === "linked") replace(picture, okAlert(`WhatsApp is linked${login.account ? ` as ${login.account}` : ""}.`));
        else if (login.reason) replace(picture, errorAlert({ message: login.reason }));
        else replace(picture);
        polling = false;
        await page.reload();
        return false;
      } catch (error) {
        replace(status, errorAlert(error));
        polling = false;
        return false;
      }
    });
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(start, async () => {
      const number = phone.control.value.replace(/[^\d+]/g, "");
      const login = await api("/api/channels/whatsapp/login", { method: "POST", body: number ? { phoneNumber: number } : {} });
      if (login) show(login);
      poll();
    }, status);
  });
  unlink.addEventListener("click", async () => {
    if (!confirm("Unlink WhatsApp? The assistant stops answering there until you link a phone again.")) return;
    await busy(unlink, async () => {
      await api("/api/channels/whatsapp/logout", { method: "POST", body: {} });
      replace(picture);
      replace(messages, okAlert("WhatsApp unlinked."));
      await page.reload();
    }, status);
  });
  // A link already in progress (another tab, a reload): show its QR at once.
  void api("/api/channels/whatsapp/login").then((login) => {
    if (login && LINKING.includes(login.state)) {
      show(login);
      poll();
    }
  }, () => {});
  const heading = h("h3", {}, "Link a phone");
  return {
    element: h("div", {}, heading, form, status, picture),
    /** Linked: only Unlink makes sense. Not linked: only linking does. */
    update(channel) {
      const linked = channel.credential?.source === "linked";
      heading.textContent = linked ? "Linked phone" : "Link a phone";
      phone.element.hidden = linked;
      start.hidden = linked;
      unlink.hidden = !linked;
    },
  };
}

export async function render(container, page) {
  const top = h("div", { "aria-live": "polite" });
  const list = h("div");
  replace(container, h("h1", {}, "Channels"), top, list);
  const cards = new Map();
  const reload = async () => {
    let channels;
    try {
      ({ channels } = await api("/api/channels"));
      replace(top);
    } catch (error) {
      replace(top, errorAlert(error));
      return;
    }
    const byName = new Map(channels.map((channel) => [channel.name, channel]));
    for (const name of KNOWN) if (!byName.has(name)) byName.set(name, { name, state: "disabled", reason: "not configured" });
    for (const [name, channel] of byName) {
      if (!cards.has(name)) {
        const card = channelCard(name, context);
        cards.set(name, card);
        list.append(card.card);
      }
      cards.get(name).update(channel);
    }
  };
  const context = { ...page, reload };
  await reload();
  page.every(5000, reload);
}
