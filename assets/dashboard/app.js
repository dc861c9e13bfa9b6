// The dashboard shell: sign-in, the nav, and a tiny hash router (#overview, #sessions/ID …).
import { api, whenSignedOut } from "./api.js";
import { busy, errorAlert, field, h, replace } from "./dom.js";

const PAGES = {
  overview: () => import("./pages/overview.js"),
  setup: () => import("./pages/setup.js"),
  channels: () => import("./pages/channels.js"),
  people: () => import("./pages/people.js"),
  approvals: () => import("./pages/approvals.js"),
  schedule: () => import("./pages/schedule.js"),
  chat: () => import("./pages/chat.js"),
  sessions: () => import("./pages/sessions.js"),
  tools: () => import("./pages/tools.js"),
  config: () => import("./pages/config.js"),
  logs: () => import("./pages/logs.js"),
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
let signedIn = false;
let leavePage = () => {};
let countsTimer;

/** Timers a page starts; cleared when the page is left. */
function pageContext() {
  const timers = [];
  const onLeave = [];
  let left = false;
  return {
    /** Run `work` when the page is left (close a stream, say). */
    onLeave(work) {
      onLeave.push(work);
    },
    /** Run `work` every `ms` until the page is left or it returns false. A failure does not stop it. */
    every(ms, work) {
      const run = async () => {
        if (left) return;
        let again = true;
        try {
          again = (await work()) !== false;
        } catch {
          // The page shows its own errors; keep polling.
        }
        if (again && !left) timers.push(setTimeout(run, ms));
      };
      timers.push(setTimeout(run, ms));
    },
    get left() {
      return left;
    },
    leave() {
      left = true;
      for (const timer of timers) clearTimeout(timer);
      for (const work of onLeave.splice(0)) work();
    },
  };
}

function currentRoute() {
  const [name, ...rest] = location.hash.replace(/^#/, "").split("/");
  return { name: PAGES[name] ? name : "overview", argument: rest.length ? decodeURIComponent(rest.join("/")) : undefined };
}

async function showPage() {
  if (!signedIn) return;
  leavePage();
  const route = currentRoute();
  for (const link of nav.querySelectorAll("a[data-route]")) {
    if (link.dataset.route === route.name) {
      link.setAttribute("aria-current", "page");
      // On a phone the nav is a scrolling row: keep the current section in sight.
      link.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    else link.removeAttribute("aria-current");
  }
  const context = pageContext();
  leavePage = () => context.leave();
  const container = h("div", { class: "page" });
  replace(main, configBanner, container);
  try {
    const page = await PAGES[route.name]();
    if (context.left) return;
    document.title = `${page.title} · Faraday gateway`;
    await page.render(container, { ...context, argument: route.argument, refreshCounts });
  } catch (error) {
    if (!context.left) replace(container, h("h1", {}, "Something went wrong"), errorAlert(error));
  }
}

/** The red counts on People and Approvals: someone is waiting. */
async function refreshCounts() {
  const set = (name, count) => {
    const element = nav.querySelector(`[data-count="${name}"]`);
    element.textContent = String(count);
    element.hidden = !count;
    element.setAttribute("aria-label", `${count} waiting`);
  };
  const [approvals, pairing, status] = await Promise.allSettled([api("/api/approvals"), api("/api/pairing"), api("/api/status")]);
  if (approvals.status === "fulfilled") set("approvals", approvals.value.approvals.length);
  if (pairing.status === "fulfilled") set("people", pairing.value.pending.length);
  if (status.status === "fulfilled") showConfigBanner(status.value.config?.file);
}

const configBanner = h("div", { id: "config-banner", class: "alert warn banner", role: "alert", hidden: true });

/** A hand edit of openclaw.json that could not be applied: say so on every page. */
function showConfigBanner(file) {
  if (!file || file.applied !== false) {
    configBanner.hidden = true;
    return;
  }
  const first = file.problems?.[0];
  replace(configBanner,
    `openclaw.json was edited but has ${file.problems.length} problem(s)${first ? ` (${first.path || "file"}: ${first.message})` : ""}; the gateway keeps running the previous config. `,
    h("a", { href: "#config" }, "Open Config"));
  configBanner.hidden = false;
}

function startCounts() {
  clearInterval(countsTimer);
  void refreshCounts();
  countsTimer = setInterval(() => void refreshCounts(), 5000);
}

let setupOffered = false;

async function enter() {
  signedIn = true;
  document.body.classList.remove("signed-out");
  nav.hidden = false;
  signOutButton.hidden = false;
  startCounts();
  // First run: while no model works, opening the dashboard opens Setup (once per visit).
  if (!setupOffered && (location.hash === "" || location.hash === "#")) {
    setupOffered = true;
    try {
      const setup = await api("/api/setup");
      if (!setup.model.ready) {
        history.replaceState(null, "", "#setup");
      }
    } catch {
      // Overview still opens.
    }
  }
  void showPage();
}

function showSignIn(message) {
  signedIn = false;
  leavePage();
  clearInterval(countsTimer);
  configBanner.hidden = true;
  document.body.classList.add("signed-out");
  nav.hidden = true;
  signOutButton.hidden = true;
  document.title = "Sign in · Faraday gateway";
  const errorSlot = h("div", { "aria-live": "polite" }, message ? errorAlert({ message }) : null);
  const hint = ["The gateway's OPENCLAW_GATEWAY_TOKEN, or what ", h("code", {}, "faraday token"), " prints on its machine. ", h("code", {}, "faraday token --link"), " prints a one-time sign-in link instead."];
  const token = field({ label: "Gateway token", hint, type: "password", name: "token", autocomplete: "current-password", required: true, spellcheck: "false" });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "panel", novalidate: true }, token.element, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!token.control.value.trim()) {
      replace(errorSlot, errorAlert({ message: "enter the gateway token" }));
      token.control.focus();
      return;
    }
    await busy(submit, async () => {
      await api("/auth/login", { method: "POST", body: { token: token.control.value } });
      token.control.value = "";
      enter();
    }, errorSlot);
  });
  replace(main, h("div", { class: "signin" }, h("h1", {}, "Sign in to this gateway"), errorSlot, form));
  token.control.focus();
}

/** `#code=…` (from `faraday token --link`) or `#token=…` (from the launcher): sign in, then forget the fragment. */
async function signInFromFragment() {
  const match = /^#(code|token)=([^&]+)/.exec(location.hash);
  if (!match) return undefined;
  history.replaceState(null, "", location.pathname + location.search);
  try {
    await api("/auth/login", { method: "POST", body: { [match[1]]: decodeURIComponent(match[2]) } });
    return { ok: true };
  } catch (error) {
    return { ok: false, message: error.message };
  }
}

signOutButton.addEventListener("click", async () => {
  try {
    await api("/auth/logout", { method: "POST", body: {} });
  } finally {
    showSignIn();
  }
});

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

whenSignedOut(() => {
  if (signedIn) showSignIn("your session has ended; sign in again");
});

// Phone width after a rotation or resize: bring the current section back into the tab row's view.
window.addEventListener("resize", () => nav.querySelector('a[aria-current="page"]')?.scrollIntoView({ block: "nearest", inline: "nearest" }));

window.addEventListener("hashchange", async () => {
  // A sign-in link pasted into a tab that already shows the dashboard only changes the fragment.
  if (/^#(code|token)=/.test(location.hash)) {
    const result = await signInFromFragment();
    if (result.ok) return enter();
    if (!signedIn) return showSignIn(result.message);
  }
  await showPage();
  main.focus({ preventScroll: true });
});

async function boot() {
  const fromFragment = await signInFromFragment();
  if (fromFragment?.ok) return enter();
  let session = { signedIn: false };
  try {
    session = await api("/auth/session");
  } catch (error) {
    return replace(main, h("h1", {}, "Faraday gateway"), errorAlert(error));
  }
  if (session.signedIn) return enter();
  showSignIn(fromFragment?.message);
}

void boot();
