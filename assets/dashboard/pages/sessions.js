import { api } from "../api.js";
import { errorAlert, h, number, replace, timeElement } from "../dom.js";

export const title = "Sessions";

function listView(sessions) {
  if (sessions.length === 0) return h("p", { class: "muted" }, "No conversations yet.");
  return h("div", { class: "table-wrap" }, h("table", { class: "responsive-table" },
    h("thead", {}, h("tr", {}, ["Session", "Channel", "Chat", "Messages", "Updated", "Model"].map((name) => h("th", {}, name)))),
    h("tbody", {}, sessions.map((session) => h("tr", {},
      h("td", {}, h("a", { href: `#sessions/${encodeURIComponent(session.id)}` }, session.id.slice(0, 8)), session.active ? "" : " (ended)"),
      h("td", { "data-label": "Channel" }, session.channel),
      h("td", { "data-label": "Chat", class: "small" }, session.chat),
      h("td", { "data-label": "Messages" }, number(session.messageCount)),
      h("td", { "data-label": "Updated" }, timeElement(session.updatedAt)),
      h("td", { "data-label": "Model", class: "small" }, session.lastModel ?? "–")))),
  ));
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function messageView(message) {
  if (message.role === "tool") {
    return h("div", { class: "message tool" },
      h("div", { class: "who" }, `Tool result · ${message.name}`, message.isError ? " · error" : ""),
      h("details", {}, h("summary", {}, "Result"), h("pre", {}, pretty(message.content))));
  }
  return h("div", { class: `message ${message.role}` },
    h("div", { class: "who" }, message.role === "user" ? "Person" : "Assistant", " · ", h("span", { class: "muted small" }, timeElement(message.createdAt))),
    message.content ? h("div", { class: "body" }, message.content) : null,
    (message.toolCalls ?? []).map((call) => h("details", {},
      h("summary", {}, "Tool call ", h("code", {}, call.name)),
      h("pre", {}, JSON.stringify(call.arguments, null, 2)))));
}

async function transcript(container, id) {
  const body = h("div");
  replace(container, h("p", {}, h("a", { href: "#sessions" }, "← All sessions")), h("h1", {}, `Session ${id.slice(0, 8)}`), body);
  try {
    const { session, messages } = await api(`/api/sessions/${encodeURIComponent(id)}/messages?limit=1000`);
    replace(body,
      h("p", { class: "muted small" }, `${session.channel} · chat ${session.chat} · agent ${session.agentId} · ${number(session.messageCount)} messages · ${number(session.usage.inputTokens)} in / ${number(session.usage.outputTokens)} out tokens`),
      session.summary ? h("details", { class: "panel" }, h("summary", {}, "Summary of earlier messages"), h("p", {}, session.summary)) : null,
      h("section", { class: "panel", "aria-label": "Transcript" }, messages.length ? messages.map(messageView) : h("p", { class: "muted" }, "No messages.")));
  } catch (error) {
    replace(body, errorAlert(error));
  }
}

export async function render(container, page) {
  if (page.argument) return transcript(container, page.argument);
  const body = h("div");
  replace(container, h("h1", {}, "Sessions"), h("section", { class: "panel" }, body));
  try {
    replace(body, listView((await api("/api/sessions?limit=100")).sessions));
  } catch (error) {
    replace(body, errorAlert(error));
  }
}
