import { api } from "../api.js";
import { badge, busy, errorAlert, field, h, okAlert, replace, timeElement } from "../dom.js";

export const title = "Schedule";

const target = (deliverTo) => (deliverTo === "owners" ? "the owners" : `${deliverTo.channel} chat ${deliverTo.chat}`);

export async function render(container, page) {
  const messages = h("div", { "aria-live": "polite" });
  const jobsSlot = h("div");
  const heartbeatText = field({ label: "HEARTBEAT.md", hint: "What the heartbeat checks (agents/main/HEARTBEAT.md). It messages the owners only when something needs them.", tag: "textarea", rows: 6, name: "heartbeat" });
  const saveHeartbeat = h("button", { type: "button" }, "Save checklist");
  replace(container,
    h("h1", {}, "Schedule"),
    messages,
    h("section", { class: "panel", "aria-labelledby": "jobs-heading" }, h("h2", { id: "jobs-heading" }, "Jobs and reminders"),
      h("p", { class: "muted small" }, "Reminders made in chats, jobs from cron.jobs in openclaw.json or `faraday cron add`, and the heartbeat."), jobsSlot),
    h("section", { class: "panel", "aria-labelledby": "heartbeat-heading" }, h("h2", { id: "heartbeat-heading" }, "Heartbeat"),
      heartbeatText.element, h("div", { class: "row" }, saveHeartbeat)),
  );

  saveHeartbeat.addEventListener("click", (event) => busy(event.currentTarget, async () => {
    await api("/api/agents/main/heartbeat", { method: "PUT", body: { text: heartbeatText.control.value } });
    replace(messages, okAlert("Heartbeat checklist saved."));
  }, messages));
  api("/api/agents/main/heartbeat").then((result) => (heartbeatText.control.value = result.text), (error) => replace(messages, errorAlert(error)));

  let last = "";
  const load = async (force = false) => {
    let result;
    try {
      result = await api("/api/cron");
    } catch (error) {
      replace(jobsSlot, errorAlert(error));
      return;
    }
    if (!force && JSON.stringify(result) === last) return;
    last = JSON.stringify(result);
    const act = (job, action) => async (event) => {
      await busy(event.currentTarget, async () => {
        const answer = await api(`/api/cron/${encodeURIComponent(job.id)}/${action}`, { method: "POST", body: {} });
        replace(messages, okAlert(action === "run" ? `Ran ${job.id}: ${answer.run?.status ?? "already running"}${answer.run?.result ? ` — ${answer.run.result}` : ""}` : `${action === "pause" ? "Paused" : "Resumed"} ${job.id}.`));
        await load(true);
      }, messages);
    };
    replace(jobsSlot, result.jobs.length === 0
      ? h("p", { class: "muted" }, "Nothing is scheduled. Ask the assistant in a chat (\"remind me at 5 to call Amy\"), or add cron.jobs to the config.")
      : h("div", { class: "table-wrap" }, h("table", { class: "responsive-table", id: "jobs" },
        h("thead", {}, h("tr", {}, ["Job", "When", "Next run", "Last result", ""].map((name) => h("th", {}, name)))),
        h("tbody", {}, result.jobs.map((job) => h("tr", { "data-job": job.id },
          h("td", { "data-label": "Job" }, h("strong", {}, job.id), h("div", { class: "small muted" }, `${job.kind} · ${job.source} · to ${target(job.deliverTo)}`), h("div", { class: "small" }, job.text.length > 120 ? `${job.text.slice(0, 120)}…` : job.text)),
          h("td", { "data-label": "When" }, h("code", {}, job.schedule), job.timezone ? h("div", { class: "small muted" }, job.timezone) : null),
          h("td", { "data-label": "Next run" }, job.paused ? badge("paused") : job.nextRun ? timeElement(job.nextRun) : "–"),
          h("td", { "data-label": "Last result", class: "small" }, job.lastRun ? [badge(job.lastRun.status === "done" ? "ok" : job.lastRun.status), " ", timeElement(job.lastRun.startedAt),
            job.lastRun.result ? h("div", { class: "muted" }, job.lastRun.result.length > 160 ? `${job.lastRun.result.slice(0, 160)}…` : job.lastRun.result) : null] : "never run"),
          h("td", {}, h("div", { class: "row" },
            h("button", { type: "button", onclick: act(job, "run"), "aria-label": `Run ${job.id} now` }, "Run now"),
            h("button", { type: "button", class: "quiet", onclick: act(job, job.paused ? "resume" : "pause"), "aria-label": `${job.paused ? "Resume" : "Pause"} ${job.id}` }, job.paused ? "Resume" : "Pause")))))))));
  };
  await load(true);
  page.every(5000, () => load());
}
