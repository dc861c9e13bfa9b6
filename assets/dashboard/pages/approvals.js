import { api } from "../api.js";
import { badge, busy, errorAlert, h, okAlert, replace, timeElement } from "../dom.js";

export const title = "Approvals";

export async function render(container, page) {
  const messages = h("div", { "aria-live": "polite" });
  const pendingSlot = h("div");
  const recentSlot = h("div");
  replace(container,
    h("h1", {}, "Approvals"),
    messages,
    h("section", { class: "panel", "aria-labelledby": "waiting-heading" }, h("h2", { id: "waiting-heading" }, "Waiting for a yes"),
      h("p", { class: "muted small" }, "Tool calls the policy wants a person to confirm. Nothing is sent until you approve."), pendingSlot),
    h("section", { class: "panel", "aria-labelledby": "recent-heading" }, h("h2", { id: "recent-heading" }, "Recent tool calls"), recentSlot),
  );

  let lastPending = "";
  let lastRecent = "";
  const load = async (force = false) => {
    const [pending, recent] = await Promise.allSettled([api("/api/approvals"), api("/api/tool-calls?limit=20")]);
    if (pending.status === "rejected") replace(pendingSlot, errorAlert(pending.reason));
    else if (force || JSON.stringify(pending.value) !== lastPending) {
      lastPending = JSON.stringify(pending.value);
      const approvals = pending.value.approvals;
      replace(pendingSlot, approvals.length === 0 ? h("p", { class: "muted" }, "Nothing is waiting.") : h("ul", { class: "list" }, approvals.map((approval) => {
        const decide = (decision) => async (event) => {
          await busy(event.currentTarget, async () => {
            await api(`/api/approvals/${encodeURIComponent(approval.id)}`, { method: "POST", body: { decision } });
            replace(messages, okAlert(decision === "approve" ? `Approved: ${approval.tool} runs now.` : `Denied: ${approval.tool} will not run.`));
            await load(true);
            void page.refreshCounts();
          }, messages);
        };
        return h("li", { "data-approval": approval.id },
          h("div", { class: "row spread" }, h("strong", {}, approval.tool), h("span", { class: "small muted" }, "expires ", timeElement(approval.expiresAt))),
          h("p", { class: "small" }, approval.reason),
          h("p", { class: "small muted" }, approval.channel === "web" ? "asked in the web chat" : `asked on ${approval.channel} (chat ${approval.chat}) by ${approval.requester}`,
            " · session ", h("a", { href: `#sessions/${encodeURIComponent(approval.sessionId)}` }, approval.sessionId.slice(0, 8))),
          h("div", { class: "small" }, "Arguments"),
          h("pre", {}, JSON.stringify(approval.arguments, null, 2)),
          h("div", { class: "row" },
            h("button", { type: "button", onclick: decide("approve"), "aria-label": `Approve ${approval.tool}` }, "Approve"),
            h("button", { type: "button", class: "danger", onclick: decide("deny"), "aria-label": `Deny ${approval.tool}` }, "Deny")));
      })));
    }
    if (recent.status === "rejected") replace(recentSlot, errorAlert(recent.reason));
    else if (force || JSON.stringify(recent.value) !== lastRecent) {
      lastRecent = JSON.stringify(recent.value);
      const calls = recent.value.toolCalls;
      replace(recentSlot, calls.length === 0 ? h("p", { class: "muted" }, "No tool calls yet.") : h("div", { class: "table-wrap" }, h("table", { class: "responsive-table", id: "tool-calls" },
        h("thead", {}, h("tr", {}, ["When", "Tool", "Decision", "Approved by", "Outcome"].map((name) => h("th", {}, name)))),
        h("tbody", {}, calls.map((call) => h("tr", {},
          h("td", {}, timeElement(call.at)),
          h("td", {}, h("code", {}, call.server ? `${call.server} · ${call.tool}` : call.tool)),
          h("td", { "data-label": "Decision" }, badge(call.decision)),
          h("td", { "data-label": "Approved by" }, call.approvedBy ?? "–"),
          h("td", { "data-label": "Outcome", class: "small" }, call.outcome ?? "–", call.durationMs != null ? ` (${call.durationMs} ms)` : "")))))));
    }
  };
  await load(true);
  page.every(3000, () => load());
}
