import { createHash, timingSafeEqual } from "node:crypto";

/** Constant-time comparison: both sides hashed first so lengths leak nothing either. */
export function secretsEqual(candidate: string, expected: string): boolean {
  return timingSafeEqual(createHash("sha256").update(candidate).digest(), createHash("sha256").update(expected).digest());
}

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

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index !== -1 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}
