// The dashboard talks to the same /api/* routes as the CLI; the session cookie authenticates.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? {};
  }
}

let onSignedOut = () => {};
/** Called when the API says the session is gone (401). */
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

async function failure(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (response.status === 401) onSignedOut();
  return new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? `the gateway answered HTTP ${response.status}`, error);
}

/** JSON in, JSON out. Throws ApiError with the API's own code and message. */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, "GATEWAY_UNREACHABLE", "cannot reach the gateway; is it still running?");
  }
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? undefined : response.json();
}

/**
 * POST and read a text/event-stream answer, calling onEvent(name, data) per event
 * (EventSource cannot POST, so the stream is read from fetch).
 */
export async function streamEvents(path, body, onEvent, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      signal,
      headers: { accept: "text/event-stream", "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    if (signal?.aborted) return;
    throw new ApiError(0, "GATEWAY_UNREACHABLE", "cannot reach the gateway; is it still running?");
  }
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (error) {
      // The page was left: the gateway hands the turn's answer to whoever resumes it.
      if (signal?.aborted) return;
      throw error;
    }
    const { value, done } = chunk;
    if (done) break;
    buffer += value;
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let event = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      let parsed;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch {
        parsed = data.join("\n");
      }
      onEvent(event, parsed);
    }
  }
}
