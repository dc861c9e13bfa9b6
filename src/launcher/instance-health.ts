/** What the launcher shows for an instance: its `/healthz` answer. */
export type InstanceHealth = { readonly state: "healthy" } | { readonly state: "unhealthy"; readonly detail: string } | { readonly state: "unreachable"; readonly detail: string };

/** GET `<url>/healthz` with a short timeout; never throws. */
export async function checkHealth(url: string, timeoutMs: number): Promise<InstanceHealth> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await response.body?.cancel();
    return response.ok ? { state: "healthy" } : { state: "unhealthy", detail: `HTTP ${response.status}` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { state: "unreachable", detail: (error as Error).name === "TimeoutError" ? `no answer in ${timeoutMs / 1000} s` : cause ?? (error as Error).message };
  }
}
