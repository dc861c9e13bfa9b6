import { api, streamEvents } from "../api.js";
import { errorAlert, field, h, replace } from "../dom.js";

export const title = "Chat";

// Kept while the dashboard is open, so leaving Chat and coming back continues the conversation
// (its messages are read back from the transcript; pending approvals from /api/approvals).
const conversation = { sessionId: undefined };

function bubble(role, text) {
  return h("div", { class: `bubble ${role}` }, text);
}

function toolsMeta(toolCalls) {
  return toolCalls?.length
    ? h("span", { class: "meta" }, `Tools: ${toolCalls.map((call) => `${call.name} (${call.decision}${call.isError ? ", failed" : ""})`).join(", ")}`)
    : null;
}

export async function render(container, page) {
  const log = h("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const message = field({ tag: "textarea", label: "Message", hint: "Enter sends; Shift+Enter adds a line. YES or NO answers a pending approval.", name: "message", rows: 2 });
  const send = h("button", { type: "submit" }, "Send");
  const errorSlot = h("div", { "aria-live": "polite" });
  const sessionNote = h("p", { class: "small muted" });
  const form = h("form", { class: "chat-form" }, message.element, h("div", { class: "row" }, send,
    h("button", {
      type: "button", class: "quiet",
      onclick: () => {
        conversation.sessionId = undefined;
        cards.clear();
        log.replaceChildren();
        sessionNote.textContent = "New conversation.";
        message.control.focus();
      },
    }, "New conversation")));
  replace(container, h("h1", {}, "Chat"), h("div", { class: "panel chat" }, log, errorSlot, form, sessionNote));

  const scroll = () => (log.scrollTop = log.scrollHeight);
  const noteSession = (sessionId, model) => {
    conversation.sessionId = sessionId;
    sessionNote.textContent = `Session ${sessionId.slice(0, 8)}${model !== undefined ? ` · ${model ?? "no model"}` : ""}`;
  };
  // Streams stop when the page is left; the gateway then gives the turn's answer to whoever resumes it.
  const streams = new Set();
  page?.onLeave?.(() => {
    for (const controller of streams) controller.abort();
  });

  /** Pending approval cards of this conversation, by approval id; each has decide(approve) and settle(text). */
  const cards = new Map();

  /** What a resumed turn answered (the reply to an approval or a typed YES/NO). */
  const showAnswer = (answer) => {
    if (!answer?.sessionId) return;
    if (answer.pendingApproval) return approvalCard(answer.pendingApproval);
    if (answer.reply) {
      const reply = bubble("assistant", answer.reply);
      const meta = toolsMeta(answer.toolCalls);
      if (meta) reply.append(meta);
      log.append(reply);
      noteSession(answer.sessionId, answer.model);
    }
    scroll();
  };

  function approvalCard(approval) {
    if (cards.has(approval.id)) return;
    const slot = h("div", { "aria-live": "polite" });
    const settle = (text) => {
      cards.delete(approval.id);
      replace(buttons, h("span", { class: "small" }, text));
    };
    const decide = async (approve) => {
      if (!cards.has(approval.id)) return;
      for (const button of buttons.querySelectorAll("button")) button.disabled = true;
      slot.replaceChildren();
      try {
        const answer = await api(`/api/approvals/${encodeURIComponent(approval.id)}`, { method: "POST", body: { decision: approve ? "approve" : "deny" } });
        settle(approve ? "Approved — running it." : "Denied.");
        showAnswer(answer);
      } catch (error) {
        if (error.code === "APPROVAL_NOT_FOUND") return settle("Already decided or expired.");
        for (const button of buttons.querySelectorAll("button")) button.disabled = false;
        slot.replaceChildren(errorAlert(error));
      }
    };
    const buttons = h("div", { class: "row" },
      h("button", { type: "button", onclick: () => decide(true) }, "Approve"),
      h("button", { type: "button", class: "danger", onclick: () => decide(false) }, "Deny"));
    const card = h("div", { class: "approval-card", role: "group", "aria-label": `Approval for ${approval.tool}` },
      h("strong", {}, `${approval.tool} needs your yes`),
      h("pre", {}, JSON.stringify(approval.arguments, null, 2)),
      buttons, slot);
    cards.set(approval.id, { decide, settle });
    log.append(card);
    scroll();
  }

  message.control.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = message.control.value.trim();
    if (!text) return;
    message.control.value = "";
    errorSlot.replaceChildren();
    log.append(bubble("user", text));
    scroll();
    // Each message has its own stream: Send works while another turn waits for a yes, and a
    // typed YES/NO answers it as the buttons do (the gateway decides what counts as an answer).
    let reply;
    let replyText = "";
    const replyBubble = () => {
      if (!reply) {
        reply = h("div", { class: "bubble assistant pending", "aria-busy": "true" });
        log.append(reply);
      }
      return reply;
    };
    const finish = () => {
      reply?.classList.remove("pending");
      reply?.removeAttribute("aria-busy");
    };
    const controller = new AbortController();
    streams.add(controller);
    try {
      await streamEvents("/api/chat", { text, ...(conversation.sessionId ? { sessionId: conversation.sessionId } : {}) }, (name, data) => {
        if (name === "delta") {
          replyText += data.text;
          replyBubble().textContent = replyText;
        } else if (name === "approval") {
          // What the model says after the yes goes below the card, in a bubble of its own.
          finish();
          reply = undefined;
          replyText = "";
          conversation.sessionId = data.sessionId;
          approvalCard(data);
        } else if (name === "done") {
          noteSession(data.sessionId, data.model);
          if (!replyText && data.reply) replyBubble().textContent = data.reply;
          const meta = toolsMeta(data.toolCalls);
          if (meta && reply) reply.append(meta);
        } else if (name === "error") {
          const failed = replyBubble();
          failed.className = "bubble error";
          failed.textContent = data.error?.message ?? "the turn failed";
        }
        scroll();
      }, { signal: controller.signal });
    } catch (error) {
      errorSlot.replaceChildren(errorAlert(error));
    } finally {
      streams.delete(controller);
      finish();
    }
    // Cards this message answered.
    if (cards.size) {
      try {
        const still = new Set((await api("/api/approvals")).approvals.map((approval) => approval.id));
        for (const [id, card] of cards) if (!still.has(id)) card.settle("Answered in the chat.");
      } catch {
        // The cards stay; their buttons say so if the call was decided meanwhile.
      }
    }
    scroll();
    if (!page?.left) message.control.focus();
  });
  message.control.focus();
  // Back on the page: the conversation from the transcript, then the questions still waiting.
  const restore = async () => {
    const pending = (await api("/api/approvals")).approvals.filter((approval) => approval.channel === "web");
    if (!conversation.sessionId && pending.length) conversation.sessionId = pending.at(-1).sessionId;
    if (!conversation.sessionId) {
      sessionNote.textContent = "A new conversation starts with your first message.";
      return;
    }
    const { messages } = await api(`/api/sessions/${encodeURIComponent(conversation.sessionId)}/messages?limit=1000`);
    if (page?.left) return;
    // Before anything sent meanwhile: the page takes input while this loads.
    const earlier = [];
    for (const entry of messages) {
      if (entry.role === "user") earlier.push(bubble("user", entry.content));
      else if (entry.role === "assistant" && entry.content) earlier.push(bubble("assistant", entry.content));
    }
    log.prepend(...earlier);
    for (const approval of pending.filter((row) => row.sessionId === conversation.sessionId)) approvalCard(approval);
    noteSession(conversation.sessionId);
    scroll();
  };
  try {
    await restore();
  } catch (error) {
    if (error.code === "SESSION_NOT_FOUND") conversation.sessionId = undefined;
    else errorSlot.replaceChildren(errorAlert(error));
  }

}
