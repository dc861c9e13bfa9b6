import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { createFlyctl, deployDestroy, deployFly, deployLogs, deployUnlock, isNewerVersion, readDeployedVersion, readDeployRecord } from "../deploy/index.ts";
import { flyError } from "../deploy/fly/flyctl.ts";
import { FaradayError, type ErrorCode } from "../errors/index.ts";
import { writeFileAtomic } from "../state/index.ts";
import { faradayVersion } from "../version.ts";
import { DeployJobs, type Job, type JobEvent, type JobResult } from "./deploy-jobs.ts";
import { checkHealth } from "./instance-health.ts";
import type { Asset, AssetPath } from "./launcher-assets.ts";
import { guardRoutes, routeAccess } from "../http/route-access.ts";
import { cookieName, hostAllowed, originAllowed, readCookie, secretsEqual } from "./launcher-guard.ts";
import type { LaunchedInstance, LauncherStore } from "./launcher-store.ts";
import { checkAppName, deployEnvironment, deployOptions, LAUNCHER_CONFIG_FILE, launchConfig, launcherTokenHint, parseLaunchForm } from "./launch-request.ts";

export interface LauncherDeps {
  /** The per-run token in the URL the command prints; exchanged once (by the first browser) for a cookie. */
  readonly launchToken: string;
  /** The port the launcher listens on (known only after listen when 0 was asked for). */
  readonly port: () => number;
  readonly store: LauncherStore;
  readonly assets: ReadonlyMap<AssetPath, Asset>;
  /** The launcher's environment: FLYCTL, PATH, HOME, FARADAY_HOME. Credentials in it are ignored. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The Faraday package root: Dockerfile, deploy/fly.toml.template. */
  readonly packageRoot: string;
  /** Working directories (fly.toml, the pushed config), one per app. */
  readonly appsDir: string;
  /** Where an app's gateway answers: `https://APP.fly.dev` unless overridden (tests). */
  readonly instanceUrl: (app: string) => string;
  /** One line per action, for the terminal. Never a secret. */
  readonly log?: (line: string) => void;
  readonly healthTimeoutMs?: number;
  /** deployFly's wait for /healthz after a deploy (default its own, 5 minutes). */
  readonly deployHealthTimeoutMs?: number;
}

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = { BAD_REQUEST: 400, FLY_APP_NAME_INVALID: 400, NOT_FOUND: 404, AUTH_REQUIRED: 401, AUTH_INVALID: 401 };

function sendError(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

/**
 * The launcher's HTTP app: the page, and an API that launches, updates, repairs and destroys
 * instances with the same code as `faraday deploy …`. Never listens (see startLauncher).
 *
 * Guards, in order, on every request: the Host must be the launcher's own (DNS rebinding); a
 * POST must carry the launcher's own Origin (another site cannot drive it through the user's
 * browser); every route but the page, its assets and `POST /api/session` needs the session cookie
 * (httpOnly, SameSite=Strict) the per-run token buys — decided by the matched route (guardRoutes).
 */
export async function buildLauncherApp(deps: LauncherDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024 });
  // Every route needs the session cookie unless registered with `config: { public: true }`.
  guardRoutes(app);
  const jobs = new DeployJobs();
  const session = randomBytes(32).toString("base64url");
  const log = deps.log ?? (() => {});
  const healthTimeoutMs = deps.healthTimeoutMs ?? 3_000;

  app.addHook("onRequest", async (request, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    const port = deps.port();
    if (!hostAllowed(request.headers.host, port)) {
      return sendError(reply, 421, "BAD_REQUEST", `the launcher answers only at http://127.0.0.1:${port}; this request was addressed to "${request.headers.host ?? ""}"`);
    }
    if (request.method !== "GET" && request.method !== "HEAD" && !originAllowed(request.headers.origin, port)) {
      return sendError(reply, 403, "AUTH_INVALID", "cross-origin request refused: only the launcher's own page may change anything");
    }
    // Decided by the route the router matched, never by the URL string (`/%61pi/…` is `/api/…`).
    if (routeAccess(request) === "credential") {
      reply.header("cache-control", "no-store");
      const cookie = readCookie(request.headers.cookie, cookieName(port));
      if (!cookie || !secretsEqual(cookie, session)) {
        return sendError(reply, 401, "AUTH_REQUIRED", "not signed in: open the link `faraday launcher` printed (http://127.0.0.1:PORT/#t=…)");
      }
    }
  });

  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof FaradayError) return sendError(reply, STATUS_BY_CODE[error.code] ?? 502, error.code, error.message);
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return sendError(reply, status, "BAD_REQUEST", (error as Error).message);
    log(`error: ${(error as Error).message}`);
    return sendError(reply, 500, "INTERNAL", "unexpected error; see the launcher's terminal");
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 404, "NOT_FOUND", "no such page"));

  for (const [path, asset] of deps.assets) {
    app.get(path, { config: { public: true } }, async (_request, reply) => reply.type(asset.type).header("cache-control", "no-cache").send(asset.body));
  }

  // The printed link buys one cookie, once: a copy of it (shell history, a screen share, a
  // browser's synced history) is worthless after the first sign-in.
  let exchanged = false;
  app.post("/api/session", { config: { public: true } }, async (request, reply) => {
    const token = (request.body as { token?: unknown } | undefined)?.token;
    if (typeof token !== "string" || !secretsEqual(token, deps.launchToken)) {
      return sendError(reply, 401, "AUTH_INVALID", "this launcher link is not valid (or belongs to an earlier run): open the one `faraday launcher` printed last");
    }
    if (exchanged) {
      return sendError(reply, 401, "AUTH_INVALID", "this launcher link was already used to sign in (it works once). Use the browser that opened it first, or restart `faraday launcher` for a new link");
    }
    exchanged = true;
    log("signed in (the printed link is now used up)");
    reply.header("set-cookie", `${cookieName(deps.port())}=${session}; HttpOnly; SameSite=Strict; Path=/`);
    return { ok: true };
  });

  const instanceOf = async (app: unknown): Promise<LaunchedInstance> => {
    const name = checkAppName(app);
    const instance = await deps.store.get(name);
    if (!instance) throw new FaradayError("NOT_FOUND", `${name} is not in the launcher's list`);
    return instance;
  };
  const target = (instance: LaunchedInstance) => ({ app: instance.app, url: instance.url, env: deployEnvironment(deps.env), cwd: join(deps.appsDir, instance.app), tokenMismatchHint: launcherTokenHint(instance.app) });
  const localVersion = faradayVersion();
  /** The version answering the instance's /api/status, beside this launcher's own. */
  const versionOf = async (instance: LaunchedInstance) => {
    const token = (await readDeployRecord(deps.env, instance.app))?.gatewayToken;
    const deployed = await readDeployedVersion(instance.url, token, healthTimeoutMs);
    return { deployed: deployed.version ?? null, local: localVersion, updateAvailable: deployed.version !== undefined && isNewerVersion(localVersion, deployed.version) };
  };
  const notBusy = (app: string) => {
    const busy = jobs.running(app);
    if (busy) throw new FaradayError("BAD_REQUEST", `a ${busy.action} of ${app} is still running; wait for it to finish`);
  };

  app.get("/api/instances", async () => {
    const instances = await deps.store.list();
    return {
      instances: await Promise.all(instances.map(async (instance) => {
        const [health, version] = await Promise.all([checkHealth(instance.url, healthTimeoutMs), versionOf(instance)]);
        return { ...instance, health, version, running: jobs.running(instance.app)?.id ?? null };
      })),
    };
  });

  /** After a run: a successful one lists the instance; every listed one remembers how its last run ended. */
  const finish = (instance: Omit<LaunchedInstance, "createdAt">) => async (job: Job, result: JobResult) => {
    const at = new Date().toISOString();
    if (result.ok) await deps.store.upsert({ ...instance, createdAt: at });
    if (await deps.store.get(job.app)) {
      await deps.store.recordRun(job.app, { action: job.action === "launch" ? "launch" : "update", ok: result.ok, at, ...(result.ok ? {} : { error: result.error }) });
    }
    log(`${job.action} ${job.app}: ${result.ok ? `✓ ${result.url}` : `✗ ${result.error.code}`}`);
  };

  app.post("/api/launch", async (request, reply) => {
    const form = parseLaunchForm(request.body);
    notBusy(form.app);
    const url = deps.instanceUrl(form.app);
    const cwd = join(deps.appsDir, form.app);
    await mkdir(cwd, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(cwd, LAUNCHER_CONFIG_FILE), JSON.stringify(launchConfig(form), null, 2) + "\n", { mode: 0o600 });
    const record = { app: form.app, org: form.org, region: form.region, memoryMb: form.memoryMb, url };
    const options = { ...deployOptions(record, { env: deps.env, packageRoot: deps.packageRoot, appsDir: deps.appsDir, url }, { form }), ...(deps.deployHealthTimeoutMs ? { healthTimeoutMs: deps.deployHealthTimeoutMs } : {}) };
    const job = jobs.start(form.app, "launch", (emit) => deployFly(options, (event) => {
      emit(event);
      // Listed once the app exists on Fly (so Destroy can clean up a launch that failed later), not before:
      // a taken name must not end up in the list.
      if (event.step === "app" && (event.status === "done" || event.status === "unchanged")) {
        void deps.store.get(form.app).then(async (known) => {
          if (!known) await deps.store.upsert({ ...record, createdAt: new Date().toISOString() });
        });
      }
    }), finish(record));
    log(`launch ${form.app}: started (${form.org}, ${form.region}, ${form.memoryMb} MB)`);
    return reply.code(202).send({ job: job.id, app: form.app });
  });

  app.post("/api/instances/:app/update", async (request, reply) => {
    const instance = await instanceOf((request.params as { app: string }).app);
    notBusy(instance.app);
    const options = { ...deployOptions(instance, { env: deps.env, packageRoot: deps.packageRoot, appsDir: deps.appsDir, url: instance.url }, { update: true }), ...(deps.deployHealthTimeoutMs ? { healthTimeoutMs: deps.deployHealthTimeoutMs } : {}) };
    await mkdir(options.cwd, { recursive: true, mode: 0o700 });
    const job = jobs.start(instance.app, "update", (emit) => deployFly(options, emit), finish(instance));
    log(`update ${instance.app}: started`);
    return reply.code(202).send({ job: job.id, app: instance.app });
  });

  app.post("/api/update-all", async (_request, reply) => {
    const instances = await deps.store.list();
    if (instances.length === 0) throw new FaradayError("BAD_REQUEST", "nothing to update: no instances in the list");
    for (const instance of instances) await mkdir(join(deps.appsDir, instance.app), { recursive: true, mode: 0o700 });
    const job = jobs.startBatch(instances.map((instance) => instance.app), async (name, emit) => {
      const instance = await instanceOf(name);
      const options = { ...deployOptions(instance, { env: deps.env, packageRoot: deps.packageRoot, appsDir: deps.appsDir, url: instance.url }, { update: true }), ...(deps.deployHealthTimeoutMs ? { healthTimeoutMs: deps.deployHealthTimeoutMs } : {}) };
      return deployFly(options, emit);
    }, async (job, result) => finish(await instanceOf(job.app))(job, result));
    log(`update all: started (${instances.map((instance) => instance.app).join(", ")})`);
    return reply.code(202).send({ job: job.id, apps: job.apps });
  });

  app.get("/api/orgs", async () => {
    const fly = await createFlyctl(deployEnvironment(deps.env));
    const result = await fly.run(["orgs", "list", "--json"]);
    if (result.exitCode !== 0) throw flyError(result, { command: "orgs list" });
    let bySlug: Record<string, string>;
    try {
      bySlug = JSON.parse(result.stdout || "{}") as Record<string, string>;
    } catch {
      throw new FaradayError("FLY_COMMAND_FAILED", "`flyctl orgs list --json` printed something that is not JSON; is flyctl up to date? (flyctl version)");
    }
    return { orgs: Object.entries(bySlug).map(([slug, name]) => ({ slug, name })).sort((a, b) => (a.slug === "personal" ? -1 : b.slug === "personal" ? 1 : a.slug.localeCompare(b.slug))) };
  });

  app.get("/api/instances/:app/logs", async (request) => {
    const instance = await instanceOf((request.params as { app: string }).app);
    return { app: instance.app, text: await deployLogs(target(instance)) };
  });

  app.post("/api/instances/:app/repair", async (request) => {
    const instance = await instanceOf((request.params as { app: string }).app);
    notBusy(instance.app);
    log(`repair ${instance.app}: started`);
    const result = await deployUnlock(target(instance));
    log(`repair ${instance.app}: ${result.removedDeadLock ? "removed a dead gateway's lock" : "no lock removed"}${result.restartedMachine ? `, restarted ${result.restartedMachine}` : ""}`);
    return result;
  });

  app.post("/api/instances/:app/destroy", async (request) => {
    const instance = await instanceOf((request.params as { app: string }).app);
    const typed = (request.body as { confirm?: unknown } | undefined)?.confirm;
    if (typed !== instance.app) throw new FaradayError("BAD_REQUEST", "the typed name did not match; nothing was destroyed");
    notBusy(instance.app);
    await deployDestroy(target(instance));
    await deps.store.remove(instance.app);
    // Its working directory (fly.toml, the pushed config) goes too; deployDestroy forgot the token.
    await rm(join(deps.appsDir, instance.app), { recursive: true, force: true });
    log(`destroy ${instance.app}: done`);
    return { ok: true, app: instance.app };
  });

  app.post("/api/instances/:app/dashboard-link", async (request) => {
    const instance = await instanceOf((request.params as { app: string }).app);
    const token = (await readDeployRecord(deps.env, instance.app))?.gatewayToken;
    if (!token) throw new FaradayError("NOT_FOUND", `no gateway token for ${instance.app} on this computer (${join("deploys", `${instance.app}.json`)} in $FARADAY_HOME); sign in on the dashboard with the app's OPENCLAW_GATEWAY_TOKEN`);
    return { url: `${instance.url}/#token=${encodeURIComponent(token)}` };
  });

  app.get("/api/jobs/:id/events", async (request, reply) => {
    const job = jobs.get((request.params as { id: string }).id);
    if (!job) return sendError(reply, 404, "NOT_FOUND", "no such run (the launcher was restarted?)");
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
    const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), 15_000);
    let unsubscribe = () => {};
    const close = () => {
      clearInterval(heartbeat);
      unsubscribe();
    };
    unsubscribe = jobs.subscribe(job.id, (event: JobEvent) => {
      raw.write(`event: ${event.event}\ndata: ${JSON.stringify(event)}\n\n`);
      if (event.event === "result") {
        close();
        raw.end();
      }
    });
    request.raw.on("close", close);
  });

  return app;
}
