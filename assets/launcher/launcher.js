// The Faraday launcher page: plain JavaScript, no framework, no build step, no inline script (CSP).
"use strict";

/** deployFly's steps in order, with what each means to someone who has not read the CLI. */
const STEPS = [
  ["preflight", "Checks", "flyctl, login, config, secrets"],
  ["app", "Fly app", ""],
  ["volume", "Volume", ""],
  ["snapshot", "Volume snapshot", "a point to go back to", "update"],
  ["secrets", "Secrets", "sent on flyctl's stdin"],
  ["fly.toml", "fly.toml", ""],
  ["deploy", "Build and deploy", ""],
  ["health", "Health check", ""],
  ["version", "Version check", "the new version answers"],
  ["config", "Configuration", ""],
];
const stepsFor = (action) => STEPS.filter(([, , , only]) => !only || only === action);

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, body) {
  const init = { credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && data.error && data.error.code === "AUTH_REQUIRED") showSignedOut();
    throw new ApiError(response.status, data.error ? data.error.code : "HTTP_" + response.status, data.error ? data.error.message : response.statusText);
  }
  return data;
}

const errorText = (error) => (error instanceof ApiError ? `${error.code}: ${error.message}` : String(error && error.message ? error.message : error));

function showSignedOut() {
  $("signed-out").hidden = false;
  $("app").hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Sign-in: the address the command printed carries #t=TOKEN; trade it for a cookie, then drop it.

async function signIn() {
  const match = /^#t=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname);
  try {
    await api("/api/session", { token: match[1] });
  } catch (error) {
    $("signed-out").hidden = false;
    $("signed-out").querySelector("p").textContent = errorText(error);
  }
}

// ---------------------------------------------------------------------------------------------
// The steps of a run, live.

let ticker = null;

function renderSteps(action) {
  const list = $("steps");
  list.replaceChildren();
  for (const [step, label, note] of stepsFor(action)) {
    list.append(element("li", { className: "step pending", "data-step": step },
      element("span", { className: "mark", "aria-hidden": "true" }),
      element("span", { className: "name" }, label, element("small", { text: step })),
      element("span", { className: "time" }),
      element("span", { className: "detail", text: note }),
    ));
  }
}

function stepRow(step) {
  let row = $("steps").querySelector(`[data-step="${CSS.escape(step)}"]`);
  if (!row) {
    row = element("li", { className: "step pending", "data-step": step },
      element("span", { className: "mark", "aria-hidden": "true" }),
      element("span", { className: "name" }, step),
      element("span", { className: "time" }),
      element("span", { className: "detail" }));
    $("steps").append(row);
  }
  return row;
}

function applyStep(event) {
  const row = stepRow(event.step);
  const mark = row.querySelector(".mark");
  const time = row.querySelector(".time");
  const detail = row.querySelector(".detail");
  row.querySelector(".error")?.remove();
  if (event.status === "started") {
    row.className = "step running";
    row.dataset.started = String(Date.now());
    mark.textContent = "";
    row.setAttribute("aria-label", `${event.step}: running`);
    return;
  }
  delete row.dataset.started;
  const ok = event.status === "done" || event.status === "unchanged" || event.status === "passed";
  row.className = `step ${ok ? "ok" : event.status === "failed" ? "failed" : "pending"}`;
  mark.textContent = ok ? "✓" : event.status === "failed" ? "✗" : "·";
  row.dataset.status = event.status;
  row.setAttribute("aria-label", `${event.step}: ${event.status}`);
  if (event.ms !== undefined) time.textContent = `${(event.ms / 1000).toFixed(1)} s`;
  if (event.detail) detail.textContent = event.status === "unchanged" ? `unchanged — ${event.detail}` : event.detail;
  else if (event.status === "unchanged") detail.textContent = "unchanged";
  if (event.error) {
    row.append(element("div", { className: "error", role: "alert" }, element("code", { text: event.error.code }), `: ${event.error.message}`));
  }
}

function tick() {
  for (const row of $("steps").querySelectorAll(".step.running")) {
    const started = Number(row.dataset.started);
    if (started) row.querySelector(".time").textContent = `${((Date.now() - started) / 1000).toFixed(0)} s`;
  }
}

/** Follow a run (launch, update, or update all) over server-sent events until its result. */
function watch(jobId, app, action) {
  const progress = $("progress");
  progress.hidden = false;
  $("progress-title").textContent = action === "update-all" ? "Updating all instances" : `${action === "update" ? "Updating" : "Launching"} ${app}`;
  $("outcome").hidden = true;
  renderSteps(action === "launch" ? "launch" : "update");
  clearInterval(ticker);
  ticker = setInterval(tick, 500);
  progress.scrollIntoView({ behavior: "smooth", block: "start" });
  setBusy(true);
  const source = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`);
  source.addEventListener("step", (message) => applyStep(JSON.parse(message.data)));
  // Update all: each app in turn gets the same live steps.
  source.addEventListener("app", (message) => {
    const next = JSON.parse(message.data);
    $("progress-title").textContent = `Updating ${next.app} (${next.index + 1} of ${next.total})`;
    renderSteps("update");
  });
  source.addEventListener("result", (message) => {
    source.close();
    clearInterval(ticker);
    showOutcome(JSON.parse(message.data), action);
    setBusy(false);
    void loadInstances();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      clearInterval(ticker);
      setBusy(false);
      showOutcome({ ok: false, app, error: { code: "DISCONNECTED", message: "lost the connection to the launcher; is it still running?" } }, action);
    }
  };
}

function showOutcome(result, action) {
  const outcome = $("outcome");
  outcome.replaceChildren();
  outcome.hidden = false;
  if (result.batch) {
    outcome.className = `outcome ${result.ok ? "ok" : "failed"}`;
    if (result.ok) {
      $("progress-title").textContent = `Updated ${result.updated.length} instance${result.updated.length === 1 ? "" : "s"}`;
      outcome.append(element("p", { text: `Updated: ${result.updated.join(", ")}.` }));
    } else {
      $("progress-title").textContent = `Update of ${result.app} failed`;
      outcome.append(
        element("p", { role: "alert" }, element("strong", { text: result.error.code }), ` at ${result.app}: stopped there.`),
        element("p", { text: `Updated: ${result.updated.join(", ") || "none"}. Not tried: ${result.skipped.join(", ") || "none"}.` }),
      );
    }
    return;
  }
  if (result.ok) {
    outcome.className = "outcome ok";
    $("progress-title").textContent = `${result.app} is ${action === "update" ? "updated" : "up"}`;
    outcome.append(
      element("p", {}, `${result.app} is running at `, element("a", { href: result.url, target: "_blank", rel: "noopener noreferrer", id: "outcome-url", text: result.url })),
      dashboardButton(result.app, "primary", "Open the dashboard"),
    );
    if (action === "launch") for (const id of ["model-key", "telegram-token", "discord-token", "favcrm-key"]) $(id).value = "";
  } else {
    outcome.className = "outcome failed";
    $("progress-title").textContent = `${action === "update" ? "Update" : "Launch"} of ${result.app} failed`;
    const failedStep = $("steps").querySelector(".step.failed");
    // The failed step already shows the error as the CLI words it; say it here only when no step did.
    if (failedStep) outcome.append(element("p", { role: "alert" }, element("strong", { text: result.error.code }), ` at the ${failedStep.dataset.step} step (above).`));
    else outcome.append(element("p", { role: "alert" }, element("strong", { text: result.error.code }), `: ${result.error.message}`));
    outcome.append(element("p", { text: action === "launch" ? "Fix what it says and press Launch again: it resumes where it stopped." : "Fix what it says and press Update again." }));
  }
}

function setBusy(busy) {
  $("launch-button").disabled = busy;
  $("launch-button").textContent = busy ? "Working…" : "Launch";
  $("update-all").disabled = busy;
}

// ---------------------------------------------------------------------------------------------
// The dashboard, signed in: the link (with the gateway token in its #fragment) is asked for at click time.

function dashboardButton(app, style, label) {
  const button = element("button", { type: "button", className: `${style} small`, "data-action": "dashboard", text: label });
  button.addEventListener("click", () => openDashboard(app, button));
  return button;
}

async function openDashboard(app, button) {
  button.disabled = true;
  try {
    const { url } = await api(`/api/instances/${encodeURIComponent(app)}/dashboard-link`, {});
    window.open(url, "_blank", "noopener,noreferrer");
  } catch (error) {
    alert(errorText(error));
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Launch.

function readForm() {
  const form = $("launch-form");
  const data = new FormData(form);
  return {
    app: String(data.get("app") || "").trim(),
    org: String(data.get("org") || "personal"),
    region: String(data.get("region")),
    memoryMb: Number(data.get("memoryMb")),
    provider: String(data.get("provider")),
    modelKey: String(data.get("modelKey") || ""),
    telegramToken: String(data.get("telegramToken") || ""),
    discordToken: String(data.get("discordToken") || ""),
    whatsapp: $("whatsapp").checked,
    favcrmKey: String(data.get("favcrmKey") || ""),
  };
}

function showFormError(message, field) {
  const box = $("form-error");
  box.textContent = message;
  box.hidden = !message;
  for (const input of document.querySelectorAll("#launch-form [aria-invalid]")) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

async function launch(event) {
  event.preventDefault();
  const values = readForm();
  if (!$("app-name").checkValidity()) return showFormError("App name: 3–63 lowercase letters, digits and dashes, not starting or ending with a dash.", $("app-name"));
  if (!values.modelKey.trim()) return showFormError(`${$("model-key-label").textContent} is required.`, $("model-key"));
  showFormError("");
  setBusy(true);
  try {
    const { job, app } = await api("/api/launch", values);
    watch(job, app, "launch");
  } catch (error) {
    setBusy(false);
    showFormError(errorText(error));
  }
}

// ---------------------------------------------------------------------------------------------
// Instances.

const HEALTH_LABEL = { healthy: "healthy", unhealthy: "not healthy", unreachable: "unreachable" };

function renderInstance(instance) {
  const health = instance.running ? { state: "running" } : instance.health;
  const badgeText = instance.running ? "working…" : HEALTH_LABEL[health.state] + (health.detail ? ` (${health.detail})` : "");
  const created = new Date(instance.createdAt);
  const item = element("li", { className: "instance", "data-app": instance.app },
    element("div", { className: "head" },
      element("span", { className: "app", text: instance.app }),
      element("span", { className: `badge ${health.state}`, "data-health": health.state, text: badgeText })),
    element("div", { className: "meta" },
      element("a", { href: instance.url, target: "_blank", rel: "noopener noreferrer", text: instance.url }),
      ` · ${instance.org ? `${instance.org} · ` : ""}${instance.region} · ${instance.memoryMb} MB · launched ${created.toLocaleDateString()}`),
  );
  if (instance.version) {
    const line = element("p", { className: "meta version", "data-version": instance.version.deployed || "" },
      `version ${instance.version.deployed || "unknown"} (this launcher: ${instance.version.local}) `);
    if (instance.version.updateAvailable) line.append(element("span", { className: "badge update", "data-update": "available", text: "update available" }));
    item.append(line);
  }
  if (instance.lastRun && !instance.lastRun.ok && instance.lastRun.error) {
    item.append(element("p", { className: "last-error" }, `Last ${instance.lastRun.action} failed — `, element("strong", { text: instance.lastRun.error.code }), `: ${instance.lastRun.error.message}`));
  }
  const buttons = element("div", { className: "buttons" });
  buttons.append(dashboardButton(instance.app, "", "Dashboard"));
  const update = element("button", { type: "button", className: "small", "data-action": "update", text: "Update" });
  update.addEventListener("click", () => updateInstance(instance.app, update));
  const repair = element("button", { type: "button", className: "small", "data-action": "repair", text: "Repair" });
  repair.title = "Remove a dead gateway's lock inside the machine; restart it if it is not healthy";
  repair.addEventListener("click", () => repairInstance(instance.app, repair, item));
  const logs = element("button", { type: "button", className: "small", "data-action": "logs", text: "Logs" });
  logs.title = "The machine's recent log lines (flyctl logs --no-tail)";
  logs.addEventListener("click", () => showLogs(instance.app, logs, item));
  const destroy = element("button", { type: "button", className: "small", "data-action": "destroy", text: "Destroy" });
  destroy.addEventListener("click", () => askDestroy(instance.app));
  if (instance.running) for (const button of [update, repair, destroy]) button.disabled = true;
  buttons.append(update, repair, logs, destroy);
  item.append(buttons);
  return item;
}

async function loadInstances() {
  let data;
  try {
    data = await api("/api/instances");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) console.error(error);
    return;
  }
  $("signed-out").hidden = true;
  $("app").hidden = false;
  const list = $("instances");
  list.replaceChildren(...data.instances.map(renderInstance));
  $("instances-empty").hidden = data.instances.length > 0;
  $("update-all").hidden = data.instances.length === 0;
  const running = data.instances.find((instance) => instance.running);
  if (running && $("progress").hidden) watch(running.running, running.app, running.lastRun ? "update" : "launch");
}

async function updateAll() {
  const button = $("update-all");
  button.disabled = true;
  try {
    const { job } = await api("/api/update-all", {});
    watch(job, "", "update-all");
  } catch (error) {
    button.disabled = false;
    alert(errorText(error));
  }
}

async function showLogs(app, button, item) {
  const open = item.querySelector(".logs");
  if (open) {
    open.remove();
    button.textContent = "Logs";
    return;
  }
  button.disabled = true;
  button.textContent = "Loading…";
  const box = element("pre", { className: "logs", tabindex: "0", "aria-label": `Recent log lines of ${app}` });
  try {
    const { text } = await api(`/api/instances/${encodeURIComponent(app)}/logs`);
    box.textContent = text.trim() || "(no log lines yet)";
    button.textContent = "Hide logs";
  } catch (error) {
    box.textContent = errorText(error);
    button.textContent = "Logs";
  }
  button.disabled = false;
  item.append(box);
  box.scrollTop = box.scrollHeight;
}

async function loadOrgs() {
  try {
    const { orgs } = await api("/api/orgs");
    if (!orgs.length) return;
    const select = $("org");
    const chosen = select.value;
    select.replaceChildren(...orgs.map((org) => element("option", { value: org.slug, text: org.name && org.name !== org.slug ? `${org.slug} — ${org.name}` : org.slug })));
    if (orgs.some((org) => org.slug === chosen)) select.value = chosen;
  } catch (error) {
    // Not logged in to Fly yet, or flyctl missing: the launch itself reports that clearly.
    $("org-hint").textContent = `Could not list your organisations (${errorText(error)}); "personal" is used.`;
  }
}

async function updateInstance(app, button) {
  button.disabled = true;
  try {
    const { job } = await api(`/api/instances/${encodeURIComponent(app)}/update`, {});
    watch(job, app, "update");
  } catch (error) {
    alert(errorText(error));
  } finally {
    button.disabled = false;
  }
}

async function repairInstance(app, button, item) {
  button.disabled = true;
  button.textContent = "Repairing…";
  item.querySelector(".note")?.remove();
  const note = element("p", { className: "note", role: "status" });
  try {
    const result = await api(`/api/instances/${encodeURIComponent(app)}/repair`, {});
    const parts = [result.lock ? `lock: ${result.lock.status} — ${result.lock.detail}` : "no lock check in the report"];
    parts.push(result.removedDeadLock ? "removed the lock of a dead gateway" : "no lock removed (a live gateway's lock is never touched)");
    if (result.restartedMachine) parts.push(`restarted machine ${result.restartedMachine} (the gateway was not healthy)`);
    note.textContent = parts.join("\n");
  } catch (error) {
    note.textContent = errorText(error);
    note.style.color = "var(--bad)";
  }
  button.disabled = false;
  button.textContent = "Repair";
  item.append(note);
}

let destroying = null;

function askDestroy(app) {
  destroying = app;
  $("destroy-app").textContent = app;
  $("destroy-confirm").value = "";
  $("destroy-go").disabled = true;
  $("destroy-error").hidden = true;
  $("destroy-dialog").showModal();
  $("destroy-confirm").focus();
}

async function confirmDestroy() {
  const typed = $("destroy-confirm").value.trim();
  if (typed !== destroying) return;
  const go = $("destroy-go");
  go.disabled = true;
  go.textContent = "Destroying…";
  try {
    await api(`/api/instances/${encodeURIComponent(destroying)}/destroy`, { confirm: typed });
    $("destroy-dialog").close();
    await loadInstances();
  } catch (error) {
    $("destroy-error").textContent = errorText(error);
    $("destroy-error").hidden = false;
    go.disabled = false;
  } finally {
    go.textContent = "Destroy";
  }
}

// ---------------------------------------------------------------------------------------------

function wire() {
  $("launch-form").addEventListener("submit", launch);
  for (const radio of document.querySelectorAll('input[name="provider"]')) {
    radio.addEventListener("change", () => {
      const anthropic = $("provider-anthropic").checked;
      $("model-key-label").textContent = anthropic ? "Anthropic API key" : "OpenAI API key";
      $("model-key").placeholder = anthropic ? "sk-ant-…" : "sk-…";
    });
  }
  $("app-name").addEventListener("input", () => {
    const name = $("app-name").value.trim();
    $("app-url").textContent = name ? `https://${name}.fly.dev` : "https://…fly.dev";
  });
  $("refresh").addEventListener("click", () => void loadInstances());
  $("update-all").addEventListener("click", () => void updateAll());
  $("destroy-confirm").addEventListener("input", () => ($("destroy-go").disabled = $("destroy-confirm").value.trim() !== destroying));
  $("destroy-confirm").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      void confirmDestroy();
    }
  });
  $("destroy-go").addEventListener("click", () => void confirmDestroy());
  setInterval(() => {
    if (document.visibilityState === "visible" && !$("app").hidden) void loadInstances();
  }, 20_000);
}

async function boot() {
  wire();
  await signIn();
  await loadInstances();
  if (!$("app").hidden) await loadOrgs();
}

void boot();
