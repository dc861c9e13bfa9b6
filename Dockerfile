# syntax=docker/dockerfile:1
#
# Faraday gateway image. `fly deploy` builds this file; fly.toml's [processes] line replaces
# CMD (never ENTRYPOINT), so the entrypoint below runs on Fly as it does under `docker run`.
# src/deploy/container-check.ts reads this file and fly.toml and fails the tests when they
# drift apart (port, state dir, entry script) — OpenClaw #25446 shipped exactly that drift.

# ---- build: full dependency tree + TypeScript, produces /app/dist -------------------------
FROM node:24-slim AS build
WORKDIR /app
# Manifests first so the dependency layer is cached until package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled output, deployment assets only -------------
FROM node:24-slim AS runtime
# tini as PID 1: forwards SIGTERM to the gateway (which exits 0 after a graceful shutdown)
# and reaps zombies; node as PID 1 would ignore signals it has no handler for.
# setpriv (util-linux, part of the slim base) drops root in the entrypoint; fail the build
# here, not the boot on Fly, if a base image update ever removes either binary.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && command -v setpriv >/dev/null \
 && test -x /usr/bin/tini
WORKDIR /app
# The V8 compile cache lives on the volume so restarts after the first boot start warm.
ENV NODE_ENV=production \
    OPENCLAW_STATE_DIR=/data \
    FARADAY_COMPILE_CACHE=/data/.compile-cache
COPY package.json package-lock.json ./
# --omit=peer: Baileys declares sharp (image thumbnails, ~19 MB with libvips) as a peer; it only
# imports it for media, which a text assistant never sends.
RUN npm ci --omit=dev --omit=peer --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY deploy ./deploy
# The dashboard's (and launcher's) static files: read at run time from ../../assets relative to dist/<capability>/.
COPY assets ./assets
RUN chmod 0755 /app/deploy/entrypoint.sh

EXPOSE 3000
# No curl in the slim image; node's global fetch does the probe. Same path and port as the
# [[http_service.checks]] in fly.toml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]

# The entrypoint starts as root only to make the state dir (a Fly volume mounts root-owned)
# writable by the `node` user, then drops privileges with setpriv and execs the command.
# Started as a non-root user (`docker run --user node`), it execs the command directly.
ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/entrypoint.sh"]
# --bind lan: Fly's proxy and `docker run -p` reach the container from outside its loopback.
# A non-loopback bind requires OPENCLAW_GATEWAY_TOKEN (a Fly secret / `docker run -e`).
CMD ["node", "dist/index.js", "gateway", "--allow-unconfigured", "--bind", "lan", "--port", "3000"]
