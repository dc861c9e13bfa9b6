import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse as parseToml } from "smol-toml";
import { checkContainerConsistency, CONTAINER_CHECKS, type ContainerCheck, type ContainerProblem } from "../../src/deploy/index.ts";
import { parseDockerfile } from "../../src/deploy/dockerfile.ts";
import { readGatewayInvocation } from "../../src/deploy/gateway-invocation.ts";
import { splitShellWords } from "../../src/deploy/shell-words.ts";

const root = new URL("../../", import.meta.url);
const dockerfile = readFileSync(new URL("Dockerfile", root), "utf8");
const flyToml = readFileSync(new URL("fly.toml", root), "utf8");
const template = readFileSync(new URL("deploy/fly.toml.template", root), "utf8");

const PROCESS_LINE = 'app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"';
const DOCKER_CMD = 'CMD ["node", "dist/index.js", "gateway", "--allow-unconfigured", "--bind", "lan", "--port", "3000"]';

/** Replaces one exact piece of text, failing loudly if it is not there: a mutation that silently does nothing would make the test vacuous. */
function mutate(text: string, find: string | RegExp, replacement: string): string {
  const changed = text.replace(find, replacement);
  assert.notEqual(changed, text, `mutation did not apply: ${String(find)} not found`);
  return changed;
}

function render(templateText: string, values: Record<string, string>): string {
  return templateText.replace(/\{\{(\w+)\}\}/g, (_whole, key: string) => {
    const value = values[key];
    assert.ok(value !== undefined, `template uses an unknown placeholder {{${key}}}`);
    return value;
  });
}

function checks(problems: ContainerProblem[]): ContainerCheck[] {
  return [...new Set(problems.map((problem) => problem.check))];
}

/** Asserts the files yield exactly the named kinds of problem, and that one message mentions `mention`. */
function assertProblems(files: { dockerfile?: string; flyToml?: string }, expected: ContainerCheck[], mention: string | RegExp): void {
  const problems = checkContainerConsistency({ dockerfile: files.dockerfile ?? dockerfile, flyToml: files.flyToml ?? flyToml });
  assert.deepEqual(checks(problems).sort(), [...expected].sort(), JSON.stringify(problems, null, 2));
  const messages = problems.map((problem) => problem.message);
  assert.ok(
    messages.some((message) => (typeof mention === "string" ? message.includes(mention) : mention.test(message))),
    `no message mentions ${String(mention)}:\n${messages.join("\n")}`,
  );
}

describe("the repository's deployment files", () => {
  it("the Dockerfile and fly.toml are consistent", () => {
    assert.deepEqual(checkContainerConsistency({ dockerfile, flyToml }), []);
  });

  it("fly.toml and the Dockerfile still contain the lines the drift tests mutate", () => {
    assert.ok(flyToml.includes(PROCESS_LINE));
    assert.ok(dockerfile.includes(DOCKER_CMD));
  });

  it("the fly.toml template, rendered, is consistent with the Dockerfile", () => {
    for (const memoryMb of ["256", "1024"]) {
      const rendered = render(template, { app: "faraday-test", region: "ams", memoryMb, heapMb: String(Math.round(Number(memoryMb) * 0.6)), volumeName: "faraday_test_data", cpus: "1" });
      assert.deepEqual(checkContainerConsistency({ dockerfile, flyToml: rendered }), []);
      const parsed = parseToml(rendered) as { app: string; primary_region: string; mounts: { source: string }; vm: Array<{ memory: string }> };
      assert.equal(parsed.app, "faraday-test");
      assert.equal(parsed.primary_region, "ams");
      assert.equal(parsed.mounts.source, "faraday_test_data");
      assert.equal(parsed.vm[0]?.memory, `${memoryMb}mb`);
    }
  });

  it("the template has exactly its six placeholders and otherwise matches fly.toml", () => {
    const placeholders = new Set([...template.matchAll(/\{\{(\w+)\}\}/g)].map((match) => match[1]));
    assert.deepEqual([...placeholders].sort(), ["app", "cpus", "heapMb", "memoryMb", "region", "volumeName"]);
    const rendered = render(template, { app: "faraday", region: "iad", memoryMb: "256", heapMb: "160", volumeName: "faraday_data", cpus: "1" });
    const withoutComments = (text: string): unknown => parseToml(text);
    assert.deepEqual(withoutComments(rendered), withoutComments(flyToml));
  });

  it("fly.toml asks for the smallest machine: 256mb, one shared cpu, always on", () => {
    // JSON round trip: smol-toml builds tables with a null prototype.
    const parsed = JSON.parse(JSON.stringify(parseToml(flyToml))) as {
      vm: Array<{ memory: string; cpu_kind: string; cpus: number }>;
      env: Record<string, string>;
      mounts: { source: string; destination: string };
      http_service: { internal_port: number; force_https: boolean; auto_stop_machines: string; min_machines_running: number; processes: string[]; checks: Array<Record<string, string>> };
    };
    assert.deepEqual(parsed.vm, [{ memory: "256mb", cpu_kind: "shared", cpus: 1 }]);
    assert.deepEqual(
      parsed.env,
      { OPENCLAW_STATE_DIR: "/data", NODE_OPTIONS: "--max-semi-space-size=4 --max-old-space-size=160", FARADAY_NODE_FLAGS: "--optimize-for-size --no-concurrent-recompilation", OPENCLAW_GATEWAY_TRUST_PROXY: "true" },
      "heap sized for 256 MB; V8 favouring memory over speed through the flags NODE_OPTIONS refuses; failures counted per Fly-Client-IP",
    );
    assert.deepEqual(parsed.mounts, { source: "faraday_data", destination: "/data" });
    assert.equal(parsed.http_service.internal_port, 3000);
    assert.equal(parsed.http_service.force_https, true);
    assert.equal(parsed.http_service.auto_stop_machines, "off");
    assert.equal(parsed.http_service.min_machines_running, 1);
    assert.deepEqual(parsed.http_service.processes, ["app"]);
    assert.deepEqual(parsed.http_service.checks, [{ method: "GET", path: "/healthz", interval: "15s", timeout: "5s", grace_period: "30s" }]);
  });

  it("Node starts with fly.toml's NODE_OPTIONS (a word it refuses there would stop every node in the container)", () => {
    const env = (parseToml(flyToml) as { env: Record<string, string> }).env;
    const run = spawnSync(process.execPath, ["-e", "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit))"], {
      env: { PATH: process.env.PATH, NODE_OPTIONS: env.NODE_OPTIONS },
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.ok(Number(run.stdout) < 256 * 1024 * 1024, `heap limit ${run.stdout} bytes follows --max-old-space-size`);
  });

  it("the Dockerfile runs as a non-root user through tini and the entrypoint", () => {
    const { stages } = parseDockerfile(dockerfile);
    const runtime = stages.at(-1);
    assert.equal(stages.length, 2);
    assert.equal(runtime?.base, "node:24-slim");
    assert.deepEqual(runtime?.entrypoint?.words, ["/usr/bin/tini", "--", "/app/deploy/entrypoint.sh"]);
    assert.equal(runtime?.env.get("NODE_ENV"), "production");
    assert.ok(runtime?.runs.some((run) => /npm ci --omit=dev/.test(run.command)));
    assert.ok(runtime?.runs.some((run) => /apt-get install .*\btini\b/.test(run.command)));
    assert.ok(!runtime?.runs.some((run) => /npm run build/.test(run.command)), "the runtime stage must not compile");
    assert.ok(
      runtime?.copies.some((copy) => copy.from === undefined && copy.sources.includes("assets") && copy.destination === "/app/assets"),
      "the runtime stage carries assets/ (the dashboard's page and scripts) next to dist/",
    );
    assert.match(readFileSync(new URL(".dockerignore", root), "utf8"), /^!assets\/$/m, ".dockerignore (an allowlist) lets assets/ into the build context");
    const entrypoint = readFileSync(new URL("deploy/entrypoint.sh", root), "utf8");
    assert.match(entrypoint, /^#!\/bin\/sh\n/);
    assert.match(entrypoint, /exec setpriv --reuid="\$run_as" --regid="\$run_as" --init-groups "\$@"/);
  });

  it("the example config is the Fly guide's agent + discord config", () => {
    const example: unknown = JSON.parse(readFileSync(new URL("deploy/openclaw.example.json", root), "utf8"));
    assert.deepEqual(example, { agents: { list: [{ id: "main", default: true }] }, channels: { discord: { enabled: true } } });
  });
});

describe("drift between fly.toml and the Dockerfile", () => {
  it("a mount at /state while [env] says /data is a state-dir problem", () => {
    assertProblems({ flyToml: mutate(flyToml, 'destination = "/data"', 'destination = "/state"') }, [CONTAINER_CHECKS.stateDir], "#25446");
  });

  it("[env] OPENCLAW_STATE_DIR moved off the volume is a state-dir problem", () => {
    assertProblems(
      { flyToml: mutate(flyToml, 'OPENCLAW_STATE_DIR = "/data"', 'OPENCLAW_STATE_DIR = "/var/lib/faraday"') },
      [CONTAINER_CHECKS.stateDir],
      "Dockerfile sets ENV OPENCLAW_STATE_DIR=/data",
    );
  });

  it("a Dockerfile ENV OPENCLAW_STATE_DIR that differs from fly.toml [env] is a state-dir problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, "OPENCLAW_STATE_DIR=/data", "OPENCLAW_STATE_DIR=/state") }, [CONTAINER_CHECKS.stateDir], "OPENCLAW_STATE_DIR=/state");
  });

  it("a --state-dir flag that points off the volume is a state-dir problem", () => {
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace("--bind lan", "--bind lan --state-dir /tmp/faraday")) }, [CONTAINER_CHECKS.stateDir], "--state-dir /tmp/faraday");
  });

  it("a state dir below the mount point is on the volume", () => {
    const nested = mutate(flyToml, 'OPENCLAW_STATE_DIR = "/data"', 'OPENCLAW_STATE_DIR = "/data/"');
    const inside = mutate(nested, PROCESS_LINE, PROCESS_LINE.replace("--bind lan", "--bind lan --state-dir /data/faraday"));
    assert.deepEqual(checkContainerConsistency({ dockerfile, flyToml: inside }), []);
  });

  it("no [mounts] at all is a state-dir problem", () => {
    assertProblems({ flyToml: mutate(flyToml, /\[mounts\]\n.*\n.*\n/, "") }, [CONTAINER_CHECKS.stateDir], "no [mounts]");
  });

  it("internal_port 8080 against --port 3000 everywhere is a port problem", () => {
    assertProblems({ flyToml: mutate(flyToml, "internal_port = 3000", "internal_port = 8080") }, [CONTAINER_CHECKS.port], "internal_port is 8080");
  });

  it("a process line on another port is a port problem", () => {
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace("--port 3000", "--port=8080")) }, [CONTAINER_CHECKS.port], "--port 8080");
  });

  it("a process line that does not pin --port is a port problem", () => {
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace(" --port 3000", "")) }, [CONTAINER_CHECKS.port], "does not pin the port");
  });

  it("OPENCLAW_GATEWAY_PORT in [env] pins the port when the process line has no --port", () => {
    const noFlag = mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace(" --port 3000", ""));
    const pinned = mutate(noFlag, '[env]\n', '[env]\n  OPENCLAW_GATEWAY_PORT = "3000"\n');
    assert.deepEqual(checkContainerConsistency({ dockerfile, flyToml: pinned }), []);
    assertProblems({ flyToml: pinned.replace('OPENCLAW_GATEWAY_PORT = "3000"', 'OPENCLAW_GATEWAY_PORT = "4000"') }, [CONTAINER_CHECKS.port], "OPENCLAW_GATEWAY_PORT=4000");
  });

  it("a Dockerfile CMD on another port is a port problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, DOCKER_CMD, DOCKER_CMD.replace('"3000"', '"8080"')) }, [CONTAINER_CHECKS.port], "Dockerfile CMD listens on --port 8080");
  });

  it("EXPOSE of another port is a port problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, "EXPOSE 3000", "EXPOSE 8080") }, [CONTAINER_CHECKS.port], "EXPOSEs 8080");
  });

  it("a HEALTHCHECK on another port is a port problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, "127.0.0.1:3000/healthz", "127.0.0.1:8080/healthz") }, [CONTAINER_CHECKS.port], "HEALTHCHECK probes port 8080");
  });

  it("a process that runs dist/main.js is an entry-script problem", () => {
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace("dist/index.js", "dist/main.js")) }, [CONTAINER_CHECKS.entryScript], "runs dist/main.js");
  });

  it("a Dockerfile CMD that runs another script is an entry-script problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, DOCKER_CMD, DOCKER_CMD.replace("dist/index.js", "build/index.js")) }, [CONTAINER_CHECKS.entryScript], "Dockerfile CMD runs build/index.js");
  });

  it("a process that runs another command than gateway is an entry-script problem", () => {
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace("gateway", "doctor")) }, [CONTAINER_CHECKS.entryScript], "not the `gateway` command");
  });

  it("a process that does not run node at all is an entry-script problem", () => {
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, 'app = "npm start"') }, [CONTAINER_CHECKS.entryScript], "does not run node");
  });

  it("dist copied somewhere the command does not look is an entry-script problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, "COPY --from=build /app/dist ./dist", "COPY --from=build /app/dist /opt/faraday/dist") }, [CONTAINER_CHECKS.entryScript], "/opt/faraday/dist/index.js");
  });

  it("a Dockerfile without npm run build is a build-output problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, "RUN npm run build", "RUN npx tsc --noEmit") }, [CONTAINER_CHECKS.buildOutput], "No Dockerfile stage runs `npm run build`");
  });

  it("a runtime stage that never copies dist is a build-output problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, "COPY --from=build /app/dist ./dist\n", "") }, [CONTAINER_CHECKS.buildOutput], "COPY --from=build /app/dist ./dist");
  });

  it("a process line without --bind lan is a bind problem", () => {
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace(" --bind lan", "")) }, [CONTAINER_CHECKS.bind], "--bind lan");
    assertProblems({ flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace("--bind lan", "--bind loopback")) }, [CONTAINER_CHECKS.bind], '"loopback"');
  });

  it("a Dockerfile CMD that binds loopback is a bind problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, DOCKER_CMD, DOCKER_CMD.replace('"lan"', '"loopback"')) }, [CONTAINER_CHECKS.bind], "Dockerfile CMD binds");
  });

  it("a Fly health check on another path is a health-check problem", () => {
    assertProblems({ flyToml: mutate(flyToml, 'path = "/healthz"', 'path = "/"') }, [CONTAINER_CHECKS.healthCheck], 'path "/"');
  });

  it("no Fly health check is a health-check problem", () => {
    assertProblems({ flyToml: mutate(flyToml, /\[\[http_service\.checks\]\](\n    .*)+\n/, "") }, [CONTAINER_CHECKS.healthCheck], "no [[http_service.checks]]");
  });

  it("a Dockerfile HEALTHCHECK on another path is a health-check problem", () => {
    assertProblems({ dockerfile: mutate(dockerfile, "3000/healthz", "3000/status") }, [CONTAINER_CHECKS.healthCheck], "probes /status");
  });

  it('auto_stop_machines "stop" or unset is an auto-stop problem; false is fine', () => {
    assertProblems({ flyToml: mutate(flyToml, 'auto_stop_machines = "off"', 'auto_stop_machines = "stop"') }, [CONTAINER_CHECKS.autoStop], '"stop"');
    assertProblems({ flyToml: mutate(flyToml, /  auto_stop_machines = "off"\n/, "") }, [CONTAINER_CHECKS.autoStop], "not set");
    assert.deepEqual(checkContainerConsistency({ dockerfile, flyToml: mutate(flyToml, 'auto_stop_machines = "off"', "auto_stop_machines = false") }), []);
  });

  it("min_machines_running 0 or unset is a min-machines problem", () => {
    assertProblems({ flyToml: mutate(flyToml, "min_machines_running = 1", "min_machines_running = 0") }, [CONTAINER_CHECKS.minMachines], "is 0");
    assertProblems({ flyToml: mutate(flyToml, /  min_machines_running = 1\n/, "") }, [CONTAINER_CHECKS.minMachines], "not set");
  });

  it("an http_service routed to a missing process group is a process-group problem", () => {
    assertProblems({ flyToml: mutate(flyToml, 'processes = ["app"]', 'processes = ["web"]') }, [CONTAINER_CHECKS.processGroup], '"web"');
  });

  it("a V8 flag in NODE_OPTIONS (Node refuses it there) is a node-options problem that names FARADAY_NODE_FLAGS", () => {
    const nodeOptions = mutate(flyToml, 'NODE_OPTIONS = "--max-semi-space-size=4', 'NODE_OPTIONS = "--optimize-for-size --max-semi-space-size=4');
    assertProblems({ flyToml: nodeOptions }, ["node-options"], /--optimize-for-size.*not allow.*Move --optimize-for-size to FARADAY_NODE_FLAGS/);
    const dockerEnv = mutate(dockerfile, "ENV NODE_ENV=production", "ENV NODE_OPTIONS=--max-lazy NODE_ENV=production");
    assertProblems({ dockerfile: dockerEnv }, ["node-options"], /the Dockerfile ENV NODE_OPTIONS has --max-lazy.*Move --max-lazy to FARADAY_NODE_FLAGS/i);
  });

  it("a FARADAY_NODE_FLAGS word the gateway would ignore is a node-options problem", () => {
    const typo = mutate(flyToml, 'FARADAY_NODE_FLAGS = "--optimize-for-size', 'FARADAY_NODE_FLAGS = "--optimise-for-size');
    assertProblems({ flyToml: typo }, ["node-options"], /FARADAY_NODE_FLAGS has --optimise-for-size/);
  });

  it("fly.toml that is not TOML is reported, not thrown", () => {
    assertProblems({ flyToml: `${flyToml}\n[http_service\n` }, [CONTAINER_CHECKS.flyTomlInvalid], "not valid TOML");
  });

  it("a Dockerfile without FROM is reported, not thrown", () => {
    assertProblems({ dockerfile: "# nothing here\n" }, [CONTAINER_CHECKS.dockerfileInvalid], "no FROM");
  });
});

describe("reading a Dockerfile written another way", () => {
  // Shell forms, continuations, comments inside a continuation, ARG/ENV expansion, a
  // lower-case `as`, a trailing-slash COPY and a `sh -c` CMD: the same image as ours.
  const shellForm = [
    "# syntax=docker/dockerfile:1",
    "ARG NODE_IMAGE=node:24-slim",
    "FROM ${NODE_IMAGE} as builder",
    "WORKDIR /src",
    "COPY . .",
    "RUN npm ci \\",
    "  # comments inside a continuation are dropped",
    "  && npm run build",
    "FROM ${NODE_IMAGE}",
    "ARG PORT=3000",
    "ENV PORT_FOR_HEALTH=${PORT} \\",
    '    OPENCLAW_STATE_DIR="/data"',
    "WORKDIR /srv",
    "WORKDIR app",
    "COPY --from=builder --chown=node:node /src/dist/ dist/",
    "EXPOSE ${PORT}/tcp",
    "HEALTHCHECK --interval=10s CMD node -e \"fetch('http://localhost:$PORT_FOR_HEALTH/healthz').then(r => process.exit(r.ok ? 0 : 1))\"",
    'ENTRYPOINT ["tini", "--"]',
    "CMD sh -c 'exec node --enable-source-maps dist/index.js gateway \\",
    "  --allow-unconfigured --port=3000 --bind=lan'",
    "",
  ].join("\n");
  const flyForIt = mutate(flyToml, PROCESS_LINE, 'app = "node /srv/app/dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"');

  it("is consistent with a fly.toml that runs the same entry", () => {
    assert.deepEqual(checkContainerConsistency({ dockerfile: shellForm, flyToml: flyForIt }), []);
  });

  it("still finds drift in it: the process line runs /app/dist/index.js, not /srv/app/dist/index.js", () => {
    assertProblems({ dockerfile: shellForm, flyToml: mutate(flyToml, PROCESS_LINE, PROCESS_LINE.replace("dist/index.js", "/app/dist/index.js")) }, [CONTAINER_CHECKS.entryScript], "/srv/app/dist/index.js");
  });

  it("still finds drift in it: the expanded EXPOSE and HEALTHCHECK ports", () => {
    assertProblems({ dockerfile: mutate(shellForm, "ARG PORT=3000", "ARG PORT=4000"), flyToml: flyForIt }, [CONTAINER_CHECKS.port], "EXPOSEs 4000");
  });

  it("reads stages, continuations and variables", () => {
    const { stages } = parseDockerfile(shellForm);
    const runtime = stages[1];
    assert.equal(stages[0]?.name, "builder");
    assert.equal(stages[0]?.base, "node:24-slim");
    assert.deepEqual(stages[0]?.runs.map((run) => run.command), ["npm ci    && npm run build"]);
    assert.equal(runtime?.workdir, "/srv/app");
    assert.equal(runtime?.env.get("OPENCLAW_STATE_DIR"), "/data");
    assert.equal(runtime?.env.get("PORT_FOR_HEALTH"), "3000");
    assert.deepEqual(runtime?.exposedPorts, [{ from: 3000, to: 3000 }]);
    assert.deepEqual(runtime?.copies, [{ from: "builder", sources: ["/src/dist/"], destination: "/srv/app/dist", destinationIsDirectory: true }]);
    assert.equal(runtime?.cmd?.form, "shell");
    assert.deepEqual(runtime?.cmd?.words.slice(0, 2), ["sh", "-c"]);
  });
});

describe("command words", () => {
  it("splits like a shell: quotes, escapes, blanks", () => {
    assert.deepEqual(splitShellWords(`node  "a b" 'c "d"' e\\ f "g\\"h" ''`), ["node", "a b", 'c "d"', "e f", 'g"h', ""]);
  });

  it("finds the gateway flags behind wrappers in both flag spellings", () => {
    const invocation = readGatewayInvocation(["/usr/bin/tini", "--", "/app/deploy/entrypoint.sh", "node", "--max-old-space-size=200", "dist/index.js", "gateway", "--allow-unconfigured", "--port=3000", "--bind", "lan"]);
    assert.equal(invocation?.script, "dist/index.js");
    assert.equal(invocation?.subcommand, "gateway");
    assert.deepEqual([...(invocation?.flags ?? [])], [["allow-unconfigured", "true"], ["port", "3000"], ["bind", "lan"]]);
  });
});
