/** The gateway's own helpers: constant-time comparison and one cookie from a `Cookie` header. */
export { tokensEqual as secretsEqual } from "../http/auth.ts";
export { readCookie } from "../http/dashboard-session.ts";

/** The Host values the launcher answers to: a DNS-rebinding page sends its own name instead. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

export function hostAllowed(host: string | undefined, port: number): boolean {
  return host !== undefined && allowedHosts(port).includes(host.toLowerCase());
}

/**
 * A state-changing request must come from the launcher's own page: its Origin (which browsers
 * always send on a cross-origin or non-GET fetch) must be the launcher's own.
 */
export function originAllowed(origin: string | undefined, port: number): boolean {
  return origin !== undefined && allowedHosts(port).some((host) => origin.toLowerCase() === `http://${host}`);
}

/** The launcher's cookie name; the port keeps two launchers (and the local gateway) apart. */
export function cookieName(port: number): string {
  return `faraday_launcher_${port}`;
}
