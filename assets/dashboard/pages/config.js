import { api } from "../api.js";
import { busy, errorAlert, h, okAlert, replace } from "../dom.js";

export const title = "Config";

/** What a new openclaw.json starts from: one default agent (the shape OpenClaw's Fly guide uses). */
export const STARTER = { agents: { list: [{ id: "main", default: true }] } };

/**
 * "Insert example" per section: each adds its keys where they are missing and never overwrites.
 * Like the examples `faraday config schema` carries for editors (src/config/schema.ts); the
 * addresses are loopback ones, as the dashboard's files name no outside address.
 */
export const EXAMPLES = [
  { label: "Model (Anthropic)", path: ["agents", "defaults", "model"], value: "anthropic/claude-sonnet-5-5" },
  { label: "Local model (Ollama)", path: ["models", "providers", "local"], value: { baseUrl: "http://127.0.0.1:11434/v1" }, also: { path: ["agents", "defaults", "model"], value: "local/*" } },
  { label: "Telegram", path: ["channels", "telegram"], value: { enabled: true, dmPolicy: "pairing" } },
  { label: "Discord", path: ["channels", "discord"], value: { enabled: true, dmPolicy: "pairing" } },
  { label: "WhatsApp", path: ["channels", "whatsapp"], value: { enabled: true, dmPolicy: "pairing" } },
  { label: "MCP server", path: ["mcp", "servers", "tools"], value: { url: "http://127.0.0.1:8931/mcp", headers: { Authorization: "Bearer ${env:MCP_TOOLS_KEY}" } } },
  { label: "Tool rule", path: ["tools", "policy"], value: [{ match: "favcrm__cancel_*", decision: "confirm" }] },
];

/**
 * `text` (JSON) with `example` added where its keys are missing. Returns `{text, path}` (the
 * dotted path inserted), or `{error}` when the text is not a JSON object or the key is set.
 */
export function insertExample(text, example) {
  let config;
  try {
    config = text.trim() === "" ? {} : JSON.parse(text);
  } catch (error) {
    return { error: `fix the JSON first (${error.message})` };
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) return { error: "the file must be a JSON object" };
  const place = (path, value) => {
    let node = config;
    for (const key of path.slice(0, -1)) {
      if (node[key] === undefined) node[key] = {};
      if (node[key] === null || typeof node[key] !== "object" || Array.isArray(node[key])) return false;
      node = node[key];
    }
    const last = path[path.length - 1];
    if (node[last] !== undefined) return false;
    node[last] = structuredClone(value);
    return true;
  };
  if (!place(example.path, example.value)) return { error: `${example.path.join(".")} is already set; edit it in place` };
  if (example.also) place(example.also.path, example.also.value);
  return { text: JSON.stringify(config, null, 2) + "\n", path: example.path.join(".") };
}

/**
 * The line each JSON path starts on (`channels.telegram.dmPolicy`, `agents.list[0].id`, the
 * gateway's own path format), for text that is valid JSON.
 */
export function pathLines(text) {
  const newlines = [];
  for (let index = 0; index < text.length; index++) if (text[index] === "\n") newlines.push(index);
  const lineAt = (position) => {
    let low = 0, high = newlines.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (newlines[middle] < position) low = middle + 1;
      else high = middle;
    }
    return low + 1;
  };
  const lines = new Map();
  let i = 0;
  const space = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const string = () => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (path) => {
    space();
    if (!lines.has(path)) lines.set(path, lineAt(i));
    const character = text[i];
    if (character === "{" || character === "[") {
      const close = character === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) return void i++;
      for (let index = 0; ; index++) {
        space();
        let child;
        if (close === "}") {
          const keyStart = i;
          const key = string();
          child = path ? `${path}.${key}` : key;
          lines.set(child, lineAt(keyStart));
          space();
          i++; // the colon
        } else child = `${path}[${index}]`;
        value(child);
        space();
        if (text[i++] !== ",") return;
      }
    }
    if (character === '"') return void string();
    while (i < text.length && !/[,\]}\s]/.test(text[i])) i++;
  };
  value("");
  return lines;
}

/** The line of a problem's path, or of its nearest ancestor that exists (a missing key). */
function lineOf(lines, path) {
  for (let current = path; ; ) {
    if (lines.has(current)) return lines.get(current);
    if (!current) return undefined;
    const parent = current.replace(/(\.[^.[\]]*|\[\d+\])$/, "");
    current = parent === current ? "" : parent;
  }
}

/** Where JSON.parse stopped, as a line number. */
function syntaxErrorLine(text, message) {
  const line = /line (\d+)/.exec(message);
  if (line) return Number(line[1]);
  const position = /position (\d+)/.exec(message);
  if (position) return text.slice(0, Number(position[1])).split("\n").length;
  return undefined;
}

export async function render(container) {
  const messages = h("div", { "aria-live": "polite" });
  const problemsSlot = h("div", { id: "config-problems", "aria-live": "polite" });
  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
  const editor = h("textarea", { id: "config-editor", class: "code", spellcheck: "false", autocapitalize: "off", autocomplete: "off", wrap: "off", "aria-describedby": "config-help config-problems" });
  const save = h("button", { type: "submit" }, "Check and save");
  const revert = h("button", { type: "button", class: "quiet" }, "Discard changes");
  const pathNote = h("span");
  const examples = h("div", { class: "row", role: "group", "aria-label": "Insert example" },
    h("span", { class: "muted small" }, "Insert example:"),
    EXAMPLES.map((example) => h("button", { type: "button", class: "quiet", "data-example": example.label, onclick: () => insert(example) }, example.label)));
  const form = h("form", {},
    h("label", { for: "config-editor" }, "openclaw.json",
      h("span", { class: "hint", id: "config-help" }, "Secrets show masked; leave a masked value as it is to keep the real one. Saving checks everything first: nothing is written while there are problems. Every key is described in `faraday config schema` (point \"$schema\" at it for completion in an editor). ", pathNote)),
    examples,
    h("div", { class: "editor" }, gutter, editor),
    h("div", { class: "row" }, save, revert));
  replace(container, h("h1", {}, "Config"), messages, problemsSlot, h("section", { class: "panel" }, form));

  let marked = new Map();
  const drawGutter = () => {
    const count = editor.value.split("\n").length;
    const numbers = [];
    for (let line = 1; line <= count; line++) {
      numbers.push(marked.has(line) ? h("span", { class: "bad-line", title: marked.get(line) }, String(line)) : String(line), "\n");
    }
    // Room below the last number, so the gutter can scroll as far as the textarea does.
    replace(gutter, numbers, "\n".repeat(40));
    gutter.scrollTop = editor.scrollTop;
  };
  editor.addEventListener("input", drawGutter);
  editor.addEventListener("scroll", () => (gutter.scrollTop = editor.scrollTop));

  const goToLine = (line) => {
    const lines = editor.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
    editor.focus();
    editor.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
    const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 21;
    editor.scrollTop = Math.max(0, (line - 4) * lineHeight);
  };

  /** Show problems (or warnings) each labelled with its path, linked to its line. */
  const showProblems = (problems, kind, heading) => {
    const lines = (() => {
      try {
        JSON.parse(editor.value);
        return pathLines(editor.value);
      } catch {
        return new Map();
      }
    })();
    if (kind === "error") marked = new Map();
    const items = problems.map((problem) => {
      const line = problem.line ?? lineOf(lines, problem.path);
      if (line && kind === "error") marked.set(line, `${problem.path || "(file)"}: ${problem.message}`);
      return h("li", {}, h("button", {
        type: "button", class: `problem ${kind === "warning" ? "warning" : ""}`, "data-path": problem.path, disabled: !line,
        onclick: () => line && goToLine(line),
      }, h("span", { class: "path" }, problem.path || "(file)"), problem.message, line ? h("span", { class: "muted small" }, ` — line ${line}`) : null));
    });
    drawGutter();
    return problems.length ? [h("h2", {}, heading), h("ul", { class: "problems" }, items)] : [];
  };

  /** Adds an example section to the editor (not saved until "Check and save") and selects it. */
  const insert = (example) => {
    if (editor.readOnly) return;
    const result = insertExample(editor.value, example);
    if (result.error) {
      replace(messages, errorAlert(new Error(result.error)));
      return;
    }
    replace(messages, okAlert(`Added ${result.path}: check it, then "Check and save".`));
    editor.value = result.text;
    drawGutter();
    const line = pathLines(editor.value).get(result.path);
    if (line) goToLine(line);
  };

  let original = "";
  // The version of the file the editor shows: a save over a newer file (a hand edit) is refused.
  let version;
  // Read-only until the file is shown: typing into (or saving) a still-empty editor would
  // overwrite a config the person never saw. Stays so when loading fails; "Discard changes" retries.
  const setLoading = (loading) => {
    editor.readOnly = loading;
    save.disabled = loading;
    if (loading) editor.setAttribute("aria-busy", "true");
    else editor.removeAttribute("aria-busy");
  };
  const load = async () => {
    replace(messages);
    setLoading(true);
    try {
      const current = await api("/api/config");
      // No file yet: start from a small valid starter rather than a bare {}.
      original = JSON.stringify(current.config ?? (current.state === "missing" ? STARTER : {}), null, 2) + "\n";
      version = current.version;
      editor.value = original;
      setLoading(false);
      pathNote.textContent = `File: ${current.path}`;
      marked = new Map();
      replace(problemsSlot,
        current.state === "missing" ? h("div", { class: "alert info" }, "There is no openclaw.json yet: the gateway runs with defaults. Below is a starter; add sections with \"Insert example\". Saving creates the file.") : null,
        current.applied === false ? h("div", { class: "alert warn", role: "status" }, "This file was edited by hand and is not running: the gateway keeps the previous config until the problems below are fixed.") : null,
        showProblems(current.applied === false ? current.fileProblems ?? [] : current.problems ?? [], "error", "Problems in the saved file"),
        showProblems(current.warnings ?? [], "warning", "Warnings"));
    } catch (error) {
      replace(messages, errorAlert(error));
    }
  };

  revert.addEventListener("click", () => void load());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(messages);
    let parsed;
    try {
      parsed = JSON.parse(editor.value);
    } catch (error) {
      const line = syntaxErrorLine(editor.value, error.message);
      replace(problemsSlot, showProblems([{ path: "", message: `not valid JSON: ${error.message}`, line }], "error", "This is not valid JSON"));
      problemsSlot.querySelector("button.problem")?.focus();
      return;
    }
    await busy(save, async () => {
      try {
        const result = await api("/api/config", { method: "PUT", body: parsed, headers: version ? { "if-match": `"${version}"` } : {} });
        if (result.version) version = result.version;
        marked = new Map();
        replace(problemsSlot, showProblems(result.warnings ?? [], "warning", "Warnings"));
        replace(messages, okAlert(result.changed ? "Saved and applied." : "No changes: the file already says this."));
      } catch (error) {
        if (error.code === "CONFIG_CHANGED_ON_DISK") {
          // Both versions side by side: the person decides which changes to keep.
          replace(messages, errorAlert(error), h("div", { class: "compare" },
            h("section", {}, h("h2", {}, "On disk now"), h("pre", { class: "code" }, error.details.onDisk ? JSON.stringify(error.details.onDisk, null, 2) : error.details.parseError ?? "(no file)")),
            h("section", {}, h("h2", {}, "Yours (not saved)"), h("pre", { class: "code" }, editor.value))),
            h("button", { type: "button", class: "quiet", onclick: () => void load() }, "Load the file from disk (drops your changes)"));
          return;
        }
        if (error.code !== "CONFIG_INVALID" || !Array.isArray(error.details?.problems)) throw error;
        replace(messages, errorAlert(error));
        replace(problemsSlot, showProblems(error.details.problems, "error", "Fix these first (nothing was saved)"));
        problemsSlot.querySelector("button.problem:not([disabled])")?.focus();
      }
    }, messages);
  });
  await load();
  drawGutter();
}
