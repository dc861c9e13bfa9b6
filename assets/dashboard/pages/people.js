import { api } from "../api.js";
import { busy, errorAlert, h, okAlert, replace, timeElement } from "../dom.js";

export const title = "People";

const LABELS = { telegram: "Telegram", discord: "Discord", whatsapp: "WhatsApp" };
const channelName = (name) => LABELS[name] ?? name;
const who = (entry) => (entry.senderName ? `${entry.senderName} (${entry.sender})` : entry.sender);

export async function render(container, page) {
  const messages = h("div", { "aria-live": "polite" });
  const pendingSlot = h("div");
  const allowedSlot = h("div");
  replace(container,
    h("h1", {}, "People"),
    messages,
    h("section", { class: "panel", "aria-labelledby": "pending-heading" }, h("h2", { id: "pending-heading" }, "Waiting to be let in"),
      h("p", { class: "muted small" }, "Someone who messages the bot for the first time gets a pairing code; approve the code they tell you."), pendingSlot),
    h("section", { class: "panel", "aria-labelledby": "allowed-heading" }, h("h2", { id: "allowed-heading" }, "Allowed, by channel"),
      h("p", { class: "muted small" }, "People admitted by pairing. Senders listed in a channel's allowFrom (Config) are allowed too."), allowedSlot),
  );

  let last = "";
  const load = async (force = false) => {
    let data;
    try {
      data = await api("/api/pairing");
    } catch (error) {
      replace(pendingSlot, errorAlert(error));
      return;
    }
    const signature = JSON.stringify(data);
    if (!force && signature === last) return;
    last = signature;
    replace(pendingSlot, data.pending.length === 0 ? h("p", { class: "muted" }, "No one is waiting.") : h("ul", { class: "list" }, data.pending.map((request) => {
      const act = (action) => async (event) => {
        await busy(event.currentTarget, async () => {
          await api(`/api/pairing/${action}`, { method: "POST", body: { channel: request.channel, code: request.code } });
          replace(messages, okAlert(action === "approve" ? `${who(request)} can now talk to the assistant on ${channelName(request.channel)}.` : `Pairing request from ${who(request)} denied.`));
          await load(true);
          void page.refreshCounts();
        }, messages);
      };
      return h("li", { "data-pairing": request.code },
        h("div", { class: "row spread" },
          h("div", {},
            h("strong", {}, who(request)), " on ", channelName(request.channel),
            h("div", { class: "small muted" }, "code ", h("code", {}, request.code), " · expires ", timeElement(request.expiresAt))),
          h("div", { class: "row" },
            h("button", { type: "button", onclick: act("approve"), "aria-label": `Approve ${who(request)} on ${request.channel}` }, "Approve"),
            h("button", { type: "button", class: "danger", onclick: act("deny"), "aria-label": `Deny ${who(request)} on ${request.channel}` }, "Deny"))));
    })));
    const byChannel = new Map();
    for (const entry of data.allowed) byChannel.set(entry.channel, [...(byChannel.get(entry.channel) ?? []), entry]);
    replace(allowedSlot, byChannel.size === 0 ? h("p", { class: "muted" }, "No one has been admitted by pairing yet.") : [...byChannel].map(([channel, entries]) => [
      h("h3", {}, channelName(channel)),
      h("ul", { class: "list" }, entries.map((entry) => h("li", { "data-allowed": entry.sender },
        h("div", { class: "row spread" },
          h("div", {}, h("strong", {}, who(entry)), h("div", { class: "small muted" }, "approved ", timeElement(entry.approvedAt))),
          h("button", {
            type: "button", class: "danger", "aria-label": `Remove ${who(entry)} from ${channel}`,
            onclick: async (event) => {
              if (!confirm(`Remove ${who(entry)}? They will need a new pairing code to talk to the assistant on ${channel}.`)) return;
              await busy(event.currentTarget, async () => {
                await api("/api/pairing/revoke", { method: "POST", body: { channel, sender: entry.sender } });
                replace(messages, okAlert(`${who(entry)} removed from ${channel}.`));
                await load(true);
              }, messages);
            },
          }, "Remove"))))),
    ]));
  };
  await load(true);
  page.every(4000, () => load());
}
