import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { extname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

/** `assets/dashboard/` at the repository root: the same relative path from src/dashboard and dist/dashboard. */
export const DASHBOARD_ASSETS = new URL("../../assets/dashboard/", import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json; charset=utf-8",
};

/**
 * No inline script or style, nothing from another origin. `data:` images are the WhatsApp QR
 * code, which the gateway renders as a PNG data URL.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

async function loadAssets(root: URL): Promise<Map<string, Asset>> {
  const directory = fileURLToPath(root);
  const assets = new Map<string, Asset>();
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!type) continue;
    const path = `${entry.parentPath}/${entry.name}`;
    const body = await readFile(path);
    const name = relative(directory, path).split("\\").join("/");
    assets.set(name, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"` });
  }
  return assets;
}

function securityHeaders(reply: FastifyReply): void {
  reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
  reply.header("x-content-type-options", "nosniff");
  reply.header("referrer-policy", "no-referrer");
  reply.header("x-frame-options", "DENY");
}

/**
 * The dashboard: `GET /` is its page, `GET /dashboard/*` its scripts and styles, every file
 * from `assets/dashboard/` read once (on first request, so start-up stays fast) and kept in
 * memory. Public: the page holds no data; everything it shows comes from `/api/*`.
 */
export function dashboardRoutes(options: { root?: URL } = {}) {
  let loading: Promise<Map<string, Asset>> | undefined;
  const assets = () => (loading ??= loadAssets(options.root ?? DASHBOARD_ASSETS).catch((error: unknown) => {
    loading = undefined;
    throw error;
  }));

  const send = async (name: string, ifNoneMatch: string | undefined, reply: FastifyReply) => {
    const asset = (await assets()).get(name);
    if (!asset) {
      return reply.code(404).type("application/json; charset=utf-8").send({ error: { code: "NOT_FOUND", message: `no dashboard file ${name}` } });
    }
    securityHeaders(reply);
    // Revalidate every time (a 304 costs a round trip, not a download): an upgrade is seen at once.
    reply.header("cache-control", "no-cache");
    reply.header("etag", asset.etag);
    if (ifNoneMatch === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  };

  return (app: FastifyInstance) => {
    // The page and its assets hold no data: they sign in (with the token) before calling /api/*.
    const open = { config: { public: true } } as const;
    app.get("/", open, (request, reply) => send("index.html", request.headers["if-none-match"], reply));
    app.get("/dashboard/*", open, (request, reply) => {
      const name = (request.params as { "*": string })["*"];
      return send(name, request.headers["if-none-match"], reply);
    });
    app.get("/favicon.ico", open, (request, reply) => send("favicon.svg", request.headers["if-none-match"], reply));
  };
}
