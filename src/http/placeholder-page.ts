/** `GET /` until the dashboard lands: says what is running, reveals nothing private. */
export function placeholderPage(version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Faraday gateway</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d232a}code{background:#eef1f4;padding:.1rem .3rem;border-radius:4px}</style>
</head><body>
<h1>Faraday gateway</h1>
<p>This Faraday gateway (version ${version.replace(/[^0-9A-Za-z.+-]/g, "")}) is running.</p>
<ul>
<li><a href="/healthz">/healthz</a> — liveness</li>
<li><a href="/readyz">/readyz</a> — readiness, with the reason when not ready</li>
<li><code>/api/status</code> — full status (needs the gateway token)</li>
</ul>
<p>The dashboard is served here once it is installed. On the gateway's machine, <code>faraday doctor</code> checks everything.</p>
</body></html>
`;
}
