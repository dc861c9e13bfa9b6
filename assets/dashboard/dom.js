// Building elements without innerHTML: every piece of data becomes a text node.

/**
 * h("button", {class: "x", onclick: fn, type: "button"}, "text", child…)
 * Attributes starting with "on" are listeners; `false`/`null`/`undefined` attributes are left out.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "value") element.value = value;
    else if (name === "checked") element.checked = Boolean(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let uniqueId = 0;
/** A fresh id for label/for pairs. */
export const newId = (prefix) => `${prefix}-${++uniqueId}`;

/** A labelled input (every form field has a label). */
export function field({ label, hint, ...input }) {
  const id = input.id ?? newId("field");
  const hintId = hint ? `${id}-hint` : undefined;
  const control = h(input.tag ?? "input", { type: input.tag ? undefined : "text", ...input, tag: undefined, id, "aria-describedby": hintId });
  return { element: h("div", { class: "field" }, h("label", { for: id }, label, hint ? h("span", { class: "hint", id: hintId }, hint) : null), control), control };
}

const STATE_TONES = {
  ok: ["connected", "ready", "valid", "auto", "approved", "ok", "linked"],
  warn: ["starting", "reconnecting", "connecting", "unconfigured", "confirm", "pending", "qr", "pairing_code", "missing", "idle"],
  bad: ["failed", "logged_out", "invalid", "deny", "denied", "error", "unavailable", "expired", "disconnected"],
};

/** A coloured state word. */
export function badge(state) {
  const text = String(state ?? "unknown");
  const tone = Object.entries(STATE_TONES).find(([, states]) => states.includes(text))?.[0] ?? "";
  return h("span", { class: `badge ${tone}` }, text.replace(/_/g, " "));
}

/** An error as the API worded it. */
export function errorAlert(error) {
  return h("div", { class: "alert error", role: "alert" }, error?.message ?? String(error));
}

export function okAlert(text) {
  return h("div", { class: "alert ok", role: "status" }, text);
}

export function bytes(value) {
  if (!Number.isFinite(value)) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let index = 0;
  while (value >= 1024 && index < units.length - 1) { value /= 1024; index++; }
  return `${value.toFixed(index === 0 ? 0 : 1)} ${units[index]}`;
}

export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const d = Math.floor(seconds / 86400), hours = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  if (d) return `${d} d ${hours} h`;
  if (hours) return `${hours} h ${m} min`;
  if (m) return `${m} min`;
  return `${Math.floor(seconds)} s`;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (Math.abs(seconds) < 10) return "just now";
  const ahead = seconds < 0;
  const abs = Math.abs(seconds);
  const text = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

/** A <time> with a relative text and the exact time as its title. */
export function timeElement(iso) {
  return h("time", { datetime: iso, title: iso ? new Date(iso).toLocaleString() : undefined }, when(iso));
}

export const number = (value) => (Number.isFinite(value) ? value.toLocaleString("en") : "–");

/** Turn a button into a busy one while `work` runs; errors land in `errorSlot`. */
export async function busy(button, work, errorSlot) {
  button.disabled = true;
  if (errorSlot) errorSlot.replaceChildren();
  try {
    return await work();
  } catch (error) {
    if (errorSlot) errorSlot.replaceChildren(errorAlert(error));
    else throw error;
  } finally {
    button.disabled = false;
  }
}
