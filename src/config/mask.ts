/** Keys whose values are secrets wherever they appear in a config object. */
const SECRET_KEYS = new Set([
  "token",
  "bottoken",
  "apikey",
  "secret",
  "password",
  "authorization",
  "privatekey",
  "clientsecret",
]);

/** True when a config key names a secret value. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase().replace(/[-_]/g, ""));
}

/**
 * Mask a secret for display: the first 8 and last 4 characters of long values
 * (`sk-ant-a...9f2c`), stars for short ones. Never reversible.
 */
export function maskSecret(value: string): string {
  if (value.length >= 20) return `${value.slice(0, 8)}...${value.slice(-4)}`;
  return "****";
}

/** True for a value that only references the environment, e.g. `${env:API_KEY}`: not itself a secret. */
export function isEnvReference(value: string): boolean {
  return /^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$/.test(value) || /^Bearer \$\{env:[A-Za-z_][A-Za-z0-9_]*\}$/.test(value);
}

/** A deep copy of a config-shaped value with every secret value masked. */
export function maskSecrets(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [childKey, child] of Object.entries(value)) out[childKey] = maskSecrets(child, childKey);
    return out;
  }
  if (typeof value === "string" && key !== "" && isSecretKey(key) && !isEnvReference(value)) {
    return maskSecret(value);
  }
  return value;
}

/**
 * Undo masking for a config sent back by a client: wherever `incoming` holds exactly the
 * masked form of the secret at the same path in `current`, put the real value back. This is
 * what lets `GET /api/config` → edit → `PUT /api/config` round-trip without leaking secrets.
 */
export function restoreMaskedSecrets(incoming: unknown, current: unknown, key = ""): unknown {
  if (Array.isArray(incoming)) {
    return incoming.map((item, index) =>
      restoreMaskedSecrets(item, Array.isArray(current) ? current[index] : undefined),
    );
  }
  if (incoming !== null && typeof incoming === "object") {
    const base = current !== null && typeof current === "object" && !Array.isArray(current)
      ? (current as Record<string, unknown>)
      : {};
    const out: Record<string, unknown> = {};
    for (const [childKey, child] of Object.entries(incoming)) {
      out[childKey] = restoreMaskedSecrets(child, base[childKey], childKey);
    }
    return out;
  }
  if (
    typeof incoming === "string" && typeof current === "string" && key !== "" && isSecretKey(key) &&
    !isEnvReference(current) && incoming === maskSecret(current)
  ) {
    return current;
  }
  return incoming;
}
