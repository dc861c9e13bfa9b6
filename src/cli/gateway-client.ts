import { readEnvironment, resolveStateDir } from "../config/index.ts";
import { FaradayError, type ErrorCode } from "../errors/index.ts";
import { readLockOwner } from "../state/index.ts";
import { localGatewayToken } from "./token-command.ts";

export interface GatewayTarget {
  readonly url: string;
  readonly token: string;
}

/** Where the local gateway listens (--url, else the running gateway's owner record, else :3000) and its token. */
export async function localGateway(options: { url?: string; stateDir?: string }): Promise<GatewayTarget> {
  const token = await localGatewayToken(options.stateDir);
  if (options.url) return { url: options.url.replace(/\/$/, ""), token };
  const owner = await readLockOwner(resolveStateDir(options.stateDir, readEnvironment()));
  return { url: owner?.url ?? "http://127.0.0.1:3000", token };
}

/**
 * Call the gateway's API. A non-2xx answer becomes a FaradayError carrying the gateway's own
 * code and message, so the CLI says exactly what the API said.
 */
export async function callGateway(target: GatewayTarget, path: string, init: { method?: string; body?: unknown; accept?: string } = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${target.token}`,
        accept: init.accept ?? "application/json",
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch (error) {
    throw new FaradayError("GATEWAY_UNREACHABLE", `cannot reach the gateway at ${target.url} (${(error as Error).message}); is it running? Pass --url to point elsewhere`);
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    const code = (body.error?.code ?? "GATEWAY_UNREACHABLE") as ErrorCode;
    throw new FaradayError(code, body.error?.message ?? `the gateway answered HTTP ${response.status}`);
  }
  return response;
}

/** `callGateway` for a JSON answer. */
export async function gatewayJson<T>(target: GatewayTarget, path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  return (await (await callGateway(target, path, init)).json()) as T;
}
