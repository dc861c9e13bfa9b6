import { isIP } from "node:net";
import type { FastifyRequest } from "fastify";

/**
 * The address the failure limiter counts a request against: the socket's peer, or — only when
 * `trustProxy` is on (`gateway.trustProxy`, set on Fly) — the `Fly-Client-IP` header Fly's proxy
 * writes. `X-Forwarded-For` is never read: any client can send one, and rotating it would give
 * unlimited guesses (or lock out someone else's address).
 */
export function clientAddress(request: FastifyRequest, trustProxy: boolean): string {
  if (trustProxy) {
    const header = request.headers["fly-client-ip"];
    const value = typeof header === "string" ? header.trim() : undefined;
    if (value && isIP(value) !== 0) return value;
  }
  return request.socket.remoteAddress ?? "unknown";
}

/**
 * Whether the browser reached us over https: a TLS socket, or `X-Forwarded-Proto: https` from a
 * proxy that terminated TLS (Fly). A forged header only makes the sender's own cookie `Secure`.
 */
export function isSecureRequest(request: FastifyRequest): boolean {
  if ((request.socket as { encrypted?: boolean }).encrypted === true) return true;
  const header = request.headers["x-forwarded-proto"];
  const first = (Array.isArray(header) ? header[0] : header)?.split(",")[0]?.trim().toLowerCase();
  return first === "https";
}
