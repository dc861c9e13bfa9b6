import { api, streamEvents } from "../api.js";
import { busy, errorAlert, field, h, replace } from "../dom.js";

export const title = "Chat";

// Kept while the page is open, so leaving Chat and coming back continues the conversation.
const conversation = { sessionId: undefined, entries: [] };

function bubble(role, text) {
  return h("div", { class: `bubble ${role}` }, text);
}

function approvalCard(event, log) {
  const slot = h("div", { "aria-live": "polite" });
  const decide = (decision) => async (click) => {
    await busy(click.currentTarget, async () => {
      await api(`/api/approvals/${encodeURIComponent(event.id)}`, { method: "POST", body: { decision } });
      replace(buttons, h("span", { class: "small" }, decision === "approve" ? "Approved — running it." : "Denied."));
    }, slot);
  };
  const buttons = h("div", { class: "row" },
    h("button", { type: "button", onclick: decide("approve") }, "Approve"),
    h("button", { type: "button", class: "danger", onclick: decide("deny") }, "Deny"));
  const card = h("div", { class: "approval-card", role: "group", "aria-label": `Approval for ${event.tool}` },
    h("strong", {}, `${event.tool} needs your yes`),
    h("pre", {}, JSON.stringify(event.arguments, null, 2)),
    buttons, slot);
  log.append(card);
  return card;
}

export async function render(container) {
  const log = h("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  for (const entry of conversation.entries) log.append(entry.cloneNode(true));
  const message = field({ tag: "textarea", label: "Message", hint: "Enter sends; Shift+Enter adds a line.", name: "message", rows: 2 });
  const send = h("button", { type: "submit" }, "Send");
  const errorSlot = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "chat-form" }, message.element, h("div", { class: "row" }, send,
    h("button", {
      type: "button", class: "quiet",
      onclick: () => {
        conversation.sessionId = undefined;
        conversation.entries = [];
        log.replaceChildren();
        sessionNote.textContent = "New conversation.";
        message.control.focus();
      },
    }, "New conversation")));
  const sessionNote = h("p", { class: "small muted" }, conversation.sessionId ? `Continuing session ${conversation.sessionId.slice(0, 8)}.` : "A new conversation starts with your first message.");
  replace(container, h("h1", {}, "Chat"), h("div", { class: "panel chat" }, log, errorSlot, form, sessionNote));

  const remember = (element) => conversation.entries.push(element);
  const scroll = () => (log.scrollTop = log.scrollHeight);

  message.control.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = message.control.value.trim();
    if (!text || send.disabled) return;
    message.control.value = "";
    const mine = bubble("user", text);
    log.append(mine);
    remember(mine);
    const reply = h("div", { class: "bubble assistant pending", "aria-busy": "true" });
    log.append(reply);
    scroll();
    let replyText = "";
    await busy(send, async () => {
      try {
        await streamEvents("/api/chat", { text, ...(conversation.sessionId ? { sessionId: conversation.sessionId } : {}) }, (name, data) => {
          if (name === "delta") {
            replyText += data.text;
            reply.textContent = replyText;
          } else if (name === "approval") {
            approvalCard(data, log);
          } else if (name === "done") {
            conversation.sessionId = data.sessionId;
            sessionNote.textContent = `Session ${data.sessionId.slice(0, 8)} · ${data.model ?? "no model"}`;
            if (!replyText) reply.textContent = data.reply;
            if (data.toolCalls?.length) {
              reply.append(h("span", { class: "meta" }, `Tools: ${data.toolCalls.map((call) => `${call.name} (${call.decision}${call.isError ? ", failed" : ""})`).join(", ")}`));
            }
          } else if (name === "error") {
            reply.className = "bubble error";
            reply.textContent = data.error?.message ?? "the turn failed";
          }
          scroll();
        });
      } finally {
        reply.classList.remove("pending");
        reply.removeAttribute("aria-busy");
        if (!reply.textContent) reply.remove();
        else remember(reply);
      }
    }, errorSlot);
    scroll();
    message.control.focus();
  });
  message.control.focus();
}
