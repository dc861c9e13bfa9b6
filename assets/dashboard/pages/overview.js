import { api } from "../api.js";
import { badge, bytes, duration, errorAlert, h, number, replace } from "../dom.js";

export const title = "Overview";

function stat(label, value, extra, valueClass = "") {
  return h("section", { class: "panel" }, h("p", { class: "stat-label" }, label), h("p", { class: `stat-value ${valueClass}` }, value), extra ? h("p", { class: "muted small" }, extra) : null);
}

function view(status) {
  const agent = status.components.find((component) => component.name === "agent");
  const usage = agent?.details?.usageToday;
  const failing = status.components.filter((component) => !component.ready);
  const model = agent?.details?.model ?? (agent ? "none" : "–");
  // Serving but unable to answer anyone: that is not "Ready" to a person.
  const noModel = agent?.state === "unconfigured";
  return [
    h("div", { class: "grid" },
      noModel && status.ready
        ? h("section", { class: "panel" }, h("p", { class: "stat-label" }, "Health"), h("p", { class: "stat-value" }, "Needs setup — no model"), h("p", { class: "small" }, h("a", { href: "#setup" }, "Set up a model")))
        : stat("Health", status.ready ? "Ready" : "Not ready", status.ready ? "every component is ready" : `${failing.map((component) => component.name).join(", ")} not ready`),
      stat("Version", status.version, `Node ${status.node}`),
      stat("Uptime", duration(status.uptimeSeconds)),
      stat("Memory", bytes(status.memory?.rssBytes), "resident (RSS)"),
      // The reason names the fallbacks (a → b) or, without a model, how to configure one.
      stat("Model", model, agent?.reason?.includes("→") || !agent?.details?.model ? agent?.reason : undefined, "long"),
      stat("Model calls today", usage ? `${number(usage.turns)} model call${usage.turns === 1 ? "" : "s"}` : "–", usage ? `${number(usage.inputTokens)} in · ${number(usage.outputTokens)} out · ${number(usage.cacheReadTokens)} cached tokens` : undefined),
    ),
    status.config.state === "invalid"
      ? h("div", { class: "alert error", role: "alert" }, `The config has ${status.config.problems.length} problem(s): the gateway is in setup mode. `, h("a", { href: "#config" }, "Fix it in Config"))
      : null,
    h("section", { class: "panel" },
      h("h2", {}, "Components"),
      h("div", { class: "table-wrap" }, h("table", { class: "responsive-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Component"), h("th", {}, "State"), h("th", {}, "Reason"))),
        h("tbody", {}, status.components.map((component) =>
          h("tr", {}, h("td", {}, component.name), h("td", { "data-label": "State" }, badge(component.state)), h("td", { "data-label": "Reason", class: "small" }, component.reason)))),
      )),
      h("p", { class: "muted small" }, `State dir ${status.stateDir} · config ${status.config.state}`),
    ),
  ];
}

/** Download backup: a plain link (the session cookie authenticates a GET), so the browser saves the stream. */
function backupPanel() {
  const withoutSecrets = h("input", { type: "checkbox", id: "backup-without-secrets" });
  const link = h("a", { class: "button", href: "/api/backup", download: "" }, "Download backup");
  const notice = h("p", { class: "small", role: "status" });
  const update = () => {
    link.href = withoutSecrets.checked ? "/api/backup?withoutSecrets=1" : "/api/backup";
    replace(notice, withoutSecrets.checked
      ? "Without secrets: no secret store, no WhatsApp link, keys in the config masked. After restoring it, set the keys and link WhatsApp again."
      : "This file contains secrets — the secret store, the WhatsApp link and keys in the config. Anyone who has it can act as this assistant: keep it private.");
  };
  withoutSecrets.addEventListener("change", update);
  update();
  return h("section", { class: "panel", "aria-labelledby": "backup-heading" },
    h("h2", { id: "backup-heading" }, "Backup"),
    h("p", { class: "muted small" }, "One file with the database (conversations, memory, pairing, the WhatsApp link, the secret store), openclaw.json and the agents' files, taken while the gateway runs. Restore it with ", h("code", {}, "faraday backup restore FILE"), " (gateway stopped) or ", h("code", {}, "faraday deploy restore --app APP FILE"), "."),
    h("div", { class: "row" }, link, h("label", { class: "check", for: "backup-without-secrets" }, withoutSecrets, "Leave secrets out")),
    notice);
}

export async function render(container, page) {
  const body = h("div", { "aria-live": "off" });
  replace(container, h("h1", {}, "Overview"), body, backupPanel());
  const load = async () => {
    try {
      replace(body, view(await api("/api/status")));
    } catch (error) {
      replace(body, errorAlert(error));
    }
  };
  await load();
  page.every(5000, load);
}
