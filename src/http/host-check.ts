/**
 * The `Host` values a loopback-bound gateway answers to. A DNS-rebinding page (evil.example
 * resolving to 127.0.0.1) sends its own name, so anything else gets 421. `bindHost` adds another
 * loopback address it listens on (127.0.0.2); `publicUrl` (`gateway.publicUrl`, e.g. a tunnel
 * that keeps the public Host) adds its host.
 */
export function loopbackHosts(port: number, options: { bindHost?: string; publicUrl?: string | undefined } = {}): string[] {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  const { bindHost, publicUrl } = options;
  if (bindHost && bindHost !== "127.0.0.1" && bindHost !== "::1") hosts.push(`${bindHost.includes(":") ? `[${bindHost}]` : bindHost}:${port}`);
  if (publicUrl) {
    try {
      const url = new URL(publicUrl);
      hosts.push(url.host.toLowerCase());
    } catch {
      // Not a URL: the schema refuses it before it gets here.
    }
  }
  return hosts;
}

/** True when `host` (the request's Host header) is one of `allowed`, compared case-insensitively. */
export function hostAllowed(host: string | undefined, allowed: readonly string[]): boolean {
  return host !== undefined && allowed.includes(host.trim().toLowerCase());
}
