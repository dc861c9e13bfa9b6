import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { gzipSync } from "node:zlib";
import { createHttpFetch } from "../../src/agent/models/http-fetch.ts";

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A loopback server; `handle` answers, every request is recorded, sockets are counted. */
async function serve(t: TestContext, handle: (request: IncomingMessage, response: ServerResponse, body: string) => void, server: Server = createServer()) {
  const received: Received[] = [];
  let connections = 0;
  server.on("connection", () => connections++);
  server.on("secureConnection", () => {});
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    let body = "";
    request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      received.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body });
      handle(request, response, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return { received, connections: () => connections, port };
}

test("a JSON POST: method, path, headers and body arrive as sent; status, headers and body come back; the socket is kept alive", async (t) => {
  const server = await serve(t, (_request, response, body) => {
    response.writeHead(201, { "content-type": "application/json", "request-id": "req_1", "retry-after": "7" });
    response.end(JSON.stringify({ echoed: JSON.parse(body) }));
  });
  const fetch = createHttpFetch();
  for (const round of [1, 2]) {
    const response = await fetch(`http://127.0.0.1:${server.port}/v1/messages?beta=true`, {
      method: "POST",
      headers: new Headers({ "content-type": "application/json", "x-api-key": "fake-key", "anthropic-version": "2023-06-01" }),
      body: JSON.stringify({ round, text: "héllo" }),
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("request-id"), "req_1");
    assert.equal(response.headers.get("retry-after"), "7");
    assert.deepEqual(await response.json(), { echoed: { round, text: "héllo" } });
  }
  assert.equal(server.received.length, 2);
  const [first] = server.received;
  assert.equal(first!.method, "POST");
  assert.equal(first!.url, "/v1/messages?beta=true");
  assert.equal(first!.headers["x-api-key"], "fake-key");
  assert.equal(first!.headers["content-type"], "application/json");
  assert.equal(first!.headers["content-length"], String(Buffer.byteLength(first!.body)), "content-length counts bytes, not characters");
  assert.equal(server.connections(), 1, "the second request reused the first one's connection");
});

test("headers as a record or as pairs; a repeated name is joined as Headers joins it", async (t) => {
  const server = await serve(t, (_request, response) => response.end("ok"));
  const fetch = createHttpFetch();
  await fetch(`http://127.0.0.1:${server.port}/a`, { headers: { "x-one": "1" } });
  await fetch(`http://127.0.0.1:${server.port}/b`, { headers: [["x-two", "a"], ["x-two", "b"]] });
  assert.equal(server.received[0]!.headers["x-one"], "1");
  assert.equal(server.received[1]!.headers["x-two"], "a, b");
  assert.equal(server.received[1]!.method, "GET");
});

test("an event stream is handed over as it arrives, not when it ends", async (t) => {
  let sendRest!: () => void;
  const rest = new Promise<void>((resolve) => (sendRest = resolve));
  const server = await serve(t, (_request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write("event: first\ndata: {}\n\n");
    void rest.then(() => response.end("event: last\ndata: {}\n\n"));
  });
  const response = await createHttpFetch()(`http://127.0.0.1:${server.port}/stream`, { method: "POST", body: "{}" });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const first = await reader.read();
  // The server sends the rest only after this point: a buffering fetch would never get here.
  assert.match(decoder.decode(first.value), /event: first/);
  sendRest();
  let text = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
  assert.match(text, /event: last/);
});

test("a signal already aborted rejects with its reason and sends nothing", async (t) => {
  const server = await serve(t, (_request, response) => response.end("never"));
  const controller = new AbortController();
  const reason = new Error("stop before starting");
  controller.abort(reason);
  await assert.rejects(createHttpFetch()(`http://127.0.0.1:${server.port}/`, { signal: controller.signal }), (error) => error === reason);
  assert.equal(server.connections(), 0);
});

test("aborting while waiting for the response rejects with an AbortError and closes the request", async (t) => {
  let requestClosed!: () => void;
  const closed = new Promise<void>((resolve) => (requestClosed = resolve));
  const server = await serve(t, (request) => {
    // Never answers; records the client going away.
    request.socket.once("close", requestClosed);
  });
  const controller = new AbortController();
  const pending = createHttpFetch()(`http://127.0.0.1:${server.port}/hang`, { method: "POST", body: "{}", signal: controller.signal });
  while (server.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  await assert.rejects(pending, (error: Error) => error.name === "AbortError");
  await closed;
});

test("aborting in the middle of an event stream errors the stream", async (t) => {
  const server = await serve(t, (_request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write("data: one\n\n");
  });
  const controller = new AbortController();
  const response = await createHttpFetch()(`http://127.0.0.1:${server.port}/stream`, { signal: controller.signal });
  const reader = response.body!.getReader();
  await reader.read();
  controller.abort();
  await assert.rejects(reader.read(), (error: Error) => error.name === "AbortError");
});

test("a refused connection is a TypeError('fetch failed') with the socket error as cause, as undici reports it", async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  await assert.rejects(createHttpFetch()(`http://127.0.0.1:${closedPort}/`), (error: Error) => {
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, "fetch failed");
    assert.equal((error.cause as NodeJS.ErrnoException).code, "ECONNREFUSED");
    return true;
  });
});

test("a response cut off mid-body is a failed fetch, not a hang", async (t) => {
  const server = await serve(t, (_request, response) => {
    response.writeHead(200, { "content-type": "application/json", "content-length": "100" });
    response.write('{"partial":');
    setTimeout(() => response.socket?.destroy(), 20);
  });
  await assert.rejects(createHttpFetch()(`http://127.0.0.1:${server.port}/`, { method: "POST", body: "{}" }), (error: Error) => {
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, "fetch failed");
    return true;
  });
});

test("a gzip body is decoded; a 204 has no body", async (t) => {
  const server = await serve(t, (request, response) => {
    if (request.url === "/empty") {
      response.writeHead(204).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
    response.end(gzipSync(JSON.stringify({ compressed: true })));
  });
  const fetch = createHttpFetch();
  const response = await fetch(`http://127.0.0.1:${server.port}/zip`);
  assert.deepEqual(await response.json(), { compressed: true });
  assert.equal(response.headers.get("content-encoding"), null);
  const empty = await fetch(`http://127.0.0.1:${server.port}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
});

test("https: verifies the server certificate (a self-signed one fails unless its CA is given)", async (t) => {
  if (spawnSync("openssl", ["version"]).status !== 0) {
    t.skip("openssl is not installed");
    return;
  }
  const directory = await mkdtemp(join(tmpdir(), "faraday-tls-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const made = spawnSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(directory, "key.pem"), "-out", join(directory, "cert.pem"),
  ], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const [key, cert] = await Promise.all([readFile(join(directory, "key.pem")), readFile(join(directory, "cert.pem"))]);
  const server = await serve(t, (_request, response) => response.end(JSON.stringify({ secure: true })), createHttpsServer({ key, cert }) as unknown as Server);
  const url = `https://127.0.0.1:${server.port}/v1/messages`;
  assert.deepEqual(await (await createHttpFetch({ ca: cert })(url, { method: "POST", body: "{}" })).json(), { secure: true });
  await assert.rejects(createHttpFetch()(url, { method: "POST", body: "{}" }), (error: Error) => {
    assert.equal(error.message, "fetch failed");
    assert.match(String((error.cause as NodeJS.ErrnoException).code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    return true;
  });
});

test("what it does not handle itself (a Request, a streamed body, an env proxy) goes to the built-in fetch unchanged", async (t) => {
  const calls: unknown[] = [];
  const fallback = (async (input: unknown) => {
    calls.push(input);
    return new Response("from fallback");
  }) as typeof globalThis.fetch;
  const fetch = createHttpFetch({ fallback });
  const server = await serve(t, (_request, response) => response.end("direct"));
  const url = `http://127.0.0.1:${server.port}/`;
  assert.equal(await (await fetch(new Request(url))).text(), "from fallback");
  assert.equal(await (await fetch(url, { method: "POST", body: new Blob(["x"]).stream(), duplex: "half" } as RequestInit)).text(), "from fallback");
  const saved = process.env.HTTPS_PROXY;
  process.env.HTTPS_PROXY = "http://127.0.0.1:9";
  try {
    assert.equal(await (await fetch(url)).text(), "from fallback");
  } finally {
    if (saved === undefined) delete process.env.HTTPS_PROXY;
    else process.env.HTTPS_PROXY = saved;
  }
  assert.equal(calls.length, 3);
  assert.equal(await (await fetch(url)).text(), "direct");
  assert.equal(server.received.length, 1, "only the plain request reached the server directly");
});
