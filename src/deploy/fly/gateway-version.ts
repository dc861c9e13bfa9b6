/** What `/api/status` says about the deployed gateway's version. */
export type DeployedVersion = { readonly version: string } | { readonly version?: undefined; readonly problem: string };

/** GET `<url>/api/status` with the gateway token; never throws. */
export async function readDeployedVersion(url: string, token: string | undefined, timeoutMs = 5_000): Promise<DeployedVersion> {
  if (!token) return { problem: "no gateway token on this computer" };
  try {
    const response = await fetch(`${url}/api/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    if (!response.ok) {
      await response.body?.cancel();
      return { problem: `GET ${url}/api/status answered HTTP ${response.status}` };
    }
    const version = ((await response.json()) as { version?: unknown }).version;
    return typeof version === "string" ? { version } : { problem: `GET ${url}/api/status has no version` };
  } catch (error) {
    return { problem: `GET ${url}/api/status: ${(error as Error).name === "TimeoutError" ? "no answer" : (error as Error).message}` };
  }
}

const parts = (version: string) => /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?/.exec(version);

/**
 * Whether `local` is a newer release than `deployed` (semver order; a pre-release sorts before
 * its release). Unparseable versions are never "newer": no false "update available".
 */
export function isNewerVersion(local: string, deployed: string): boolean {
  const a = parts(local);
  const b = parts(deployed);
  if (!a || !b) return false;
  for (let index = 1; index <= 3; index += 1) {
    const difference = Number(a[index]) - Number(b[index]);
    if (difference !== 0) return difference > 0;
  }
  if (a[4] === b[4]) return false;
  if (a[4] === undefined) return true;
  if (b[4] === undefined) return false;
  return a[4].localeCompare(b[4], "en", { numeric: true }) > 0;
}
