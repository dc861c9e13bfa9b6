// Logs: the gateway's recent lines (already redacted), a level filter, and follow (server-sent events).
import { api } from "../api.js";
import { errorAlert, h, replace } from "../dom.js";

export const title = "Logs";

const LEVELS = [["", "All levels"], ["debug", "Debug and above"], ["info", "Info and above"], ["warn", "Warnings and errors"], ["error", "Errors only"]];
const TONES = { warn: "warn", error: "bad", fatal: "bad" };
const SHOWN = 2000;

function fieldsText(fields) {
  const entries = Object.entries(fields ?? {});
  return entries.length ? entries.map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`).join(" ") : "";
}

function lineView(entry) {
  const extra = fieldsText(entry.fields);
  return h("li", { class: `log-line level-${entry.level}`, "data-seq": entry.seq },
    h("time", { datetime: entry.time, class: "muted" }, entry.time.slice(11, 19)), " ",
    h("span", { class: `badge ${TONES[entry.level] ?? ""}` }, entry.level), " ",
    h("span", { class: "log-message" }, entry.msg),
    extra ? h("span", { class: "log-fields muted" }, " ", extra) : null);
}

export async function render(container, page) {
  const level = h("select", { id: "log-level" }, LEVELS.map(([value, label]) => h("option", { value }, label)));
  const follow = h("input", { type: "checkbox", id: "log-follow", checked: true });
  const state = h("span", { class: "muted small", role: "status", "aria-live": "polite" });
  const errorSlot = h("div", { "aria-live": "polite" });
  const list = h("ol", { class: "log-lines", "aria-label": "Log lines" });
  replace(container,
    h("h1", {}, "Logs"),
    h("section", { class: "panel" },
      h("div", { class: "row" },
        h("label", { for: "log-level" }, "Level"), level,
        h("label", { class: "check", for: "log-follow" }, follow, "Follow"),
        state),
      h("p", { class: "muted small" }, "The gateway's last 2,000 lines, kept in memory (secrets are redacted before a line is kept). On Fly, ", h("code", {}, "faraday deploy logs"), " shows older ones.")),
    errorSlot,
    h("section", { class: "panel" }, list));

  let source;
  let next = 0;
  const stop = () => {
    source?.close();
    source = undefined;
  };
  page.onLeave(stop);

  const append = (entry) => {
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    list.append(lineView(entry));
    while (list.childElementCount > SHOWN) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  };

  const startFollowing = () => {
    stop();
    if (!follow.checked || page.left) return;
    const query = new URLSearchParams({ follow: "1", since: String(next) });
    if (level.value) query.set("level", level.value);
    source = new EventSource(`/api/logs?${query}`);
    source.addEventListener("log", (event) => {
      const entry = JSON.parse(event.data);
      if (entry.seq <= next) return;
      next = entry.seq;
      append(entry);
    });
    source.addEventListener("ready", () => replace(state, "Following new lines"));
    source.addEventListener("error", () => replace(state, "Reconnecting…"));
  };

  const load = async () => {
    stop();
    replace(errorSlot);
    const query = new URLSearchParams({ limit: "500" });
    if (level.value) query.set("level", level.value);
    try {
      const answer = await api(`/api/logs?${query}`);
      if (page.left) return;
      next = answer.next;
      replace(list, answer.lines.map(lineView));
      if (answer.lines.length === 0) replace(state, "No lines at this level yet");
      else replace(state, follow.checked ? "" : "Paused");
      list.scrollTop = list.scrollHeight;
      startFollowing();
    } catch (error) {
      replace(errorSlot, errorAlert(error));
    }
  };

  level.addEventListener("change", () => void load());
  follow.addEventListener("change", () => {
    if (follow.checked) startFollowing();
    else {
      stop();
      replace(state, "Paused");
    }
  });
  await load();
}
