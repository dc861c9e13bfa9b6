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
  const ownersSlot = h("div");
  replace(container,
    h("h1", {}, "People"),
    messages,
    h("section", { class: "panel", "aria-labelledby": "pending-heading" }, h("h2", { id: "pending-heading" }, "Waiting to be let in"),
      h("p", { class: "muted small" }, "Someone who messages the bot for the first time gets a pairing code; approve the code they tell you."), pendingSlot),
    h("section", { class: "panel", "aria-labelledby": "allowed-heading" }, h("h2", { id: "allowed-heading" }, "Allowed, by channel"),
      h("p", { class: "muted small" }, "People admitted by pairing. Senders listed in a channel's allowFrom (Config) are allowed too."), allowedSlot),
    h("section", { class: "panel", "aria-labelledby": "owners-heading" }, h("h2", { id: "owners-heading" }, "Owners"),
      h("p", { class: "muted small" }, "Owners get the full assistant and answer customers' requests that need a yes (in their own chat with the bot, once they have written to it). Everyone else admitted is a customer. Owners from the config (owners, channels.<name>.owners) are always owners; those made here are added to them."), ownersSlot),
  );
  const setOwner = async (button, channel, sender, owner, done) => {
    await busy(button, async () => {
      await api("/api/owners", { method: "POST", body: { channel, sender, owner } });
      replace(messages, okAlert(done));
      await load(true);
    }, messages);
  };

  let last = "";
  const load = async (force = false) => {
    let data;
    try {
      data = await api("/api/pairing");
    } catch (error) {
      replace(pendingSlot, errorAlert(error));
      return;
    }
    const owners = data.owners ?? [];
    const isOwner = (channel, sender) => owners.some((owner) => owner.channel === channel && owner.sender === sender);
    const signature = JSON.stringify(data);
    if (!force && signature === last) return;
    last = signature;
    replace(pendingSlot, data.pending.length === 0 ? h("p", { class: "muted" }, "No one is waiting.") : h("ul", { class: "list" }, data.pending.map((request) => {
      const act = (action, owner = false) => async (event) => {
        await busy(event.currentTarget, async () => {
          await api(`/api/pairing/${action}`, { method: "POST", body: { channel: request.channel, code: request.code, ...(owner ? { owner: true } : {}) } });
          replace(messages, okAlert(action === "approve" ? `${who(request)} can now talk to the assistant on ${channelName(request.channel)}${owner ? " as an owner" : ""}.` : `Pairing request from ${who(request)} denied.`));
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
            h("button", { type: "button", onclick: act("approve", true), "aria-label": `Admit ${who(request)} on ${request.channel} as an owner` }, "Admit as owner"),
            h("button", { type: "button", class: "danger", onclick: act("deny"), "aria-label": `Deny ${who(request)} on ${request.channel}` }, "Deny"))));
    })));
    const byChannel = new Map();
    for (const entry of data.allowed) byChannel.set(entry.channel, [...(byChannel.get(entry.channel) ?? []), entry]);
    replace(allowedSlot, byChannel.size === 0 ? h("p", { class: "muted" }, "No one has been admitted by pairing yet.") : [...byChannel].map(([channel, entries]) => [
      h("h3", {}, channelName(channel)),
      h("ul", { class: "list" }, entries.map((entry) => h("li", { "data-allowed": entry.sender },
        h("div", { class: "row spread" },
          h("div", {}, h("strong", {}, who(entry)), isOwner(channel, entry.sender) ? " · owner" : " · customer", h("div", { class: "small muted" }, "approved ", timeElement(entry.approvedAt))),
          isOwner(channel, entry.sender) ? "" : h("button", {
            type: "button", "aria-label": `Make ${who(entry)} an owner on ${channel}`,
            onclick: (event) => setOwner(event.currentTarget, channel, entry.sender, true, `${who(entry)} is now an owner on ${channelName(channel)}.`),
          }, "Make owner"),
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
    replace(ownersSlot, owners.length === 0 ? h("p", { class: "muted" }, "No owners yet: until there is one (or an agent with role customer), everyone admitted gets the full assistant.") : h("ul", { class: "list" }, owners.map((owner) => h("li", { "data-owner": `${owner.channel}:${owner.sender}` },
      h("div", { class: "row spread" },
        h("div", {}, h("strong", {}, owner.name ? `${owner.name} (${owner.sender})` : owner.sender), " on ", channelName(owner.channel), h("div", { class: "small muted" }, owner.source === "config" ? "from the config" : "set here")),
        owner.source === "config" ? "" : h("button", {
          type: "button", class: "danger", "aria-label": `Remove ${owner.sender} as owner on ${owner.channel}`,
          onclick: (event) => setOwner(event.currentTarget, owner.channel, owner.sender, false, `${owner.sender} is no longer an owner on ${channelName(owner.channel)}.`),
        }, "Remove owner"))))));
  };
  await load(true);
  page.every(4000, () => load());
}
