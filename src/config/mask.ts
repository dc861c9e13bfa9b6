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

/** Objects every value of which is masked, whatever its key: HTTP headers and a process environment. */
const SECRET_CONTAINERS = new Set(["headers", "env"]);

/** A command-line flag that takes a secret: `--api-key`, `--token`, `-password`, `--auth-header` … */
const SECRET_FLAG = /^--?[A-Za-z0-9_-]*(key|token|secret|password|passwd|pass|auth|credential)[A-Za-z0-9_-]*$/i;
const SECRET_FLAG_WITH_VALUE = /^(--?[A-Za-z0-9_-]*(?:key|token|secret|password|passwd|pass|auth|credential)[A-Za-z0-9_-]*=)(.+)$/is;
/** `scheme://[userinfo@]host…`: the parts masked are the userinfo and every query value. */
const URL_LIKE = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s]*)$/s;

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

/**
 * A URL with its userinfo (`user:****@`) and every query value (`?key=fav_mcp_...1a2b`) masked;
 * anything that is not a URL comes back unchanged. `${env:…}` references are left as written.
 */
export function maskUrl(value: string): string {
  const match = URL_LIKE.exec(value);
  if (!match) return value;
  const [, scheme, rest] = match as unknown as [string, string, string];
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  let tail = authorityEnd === -1 ? "" : rest.slice(authorityEnd);
  let maskedAuthority = authority;
  const at = authority.lastIndexOf("@");
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(":");
    const masked = colon === -1 ? maskPart(userinfo) : `${userinfo.slice(0, colon)}:${maskPart(userinfo.slice(colon + 1))}`;
    maskedAuthority = `${masked}@${authority.slice(at + 1)}`;
  }
  const question = tail.indexOf("?");
  if (question !== -1) {
    const hash = tail.indexOf("#", question);
    const query = hash === -1 ? tail.slice(question + 1) : tail.slice(question + 1, hash);
    const maskedQuery = query.split("&").map((pair) => {
      const equals = pair.indexOf("=");
      return equals === -1 || equals === pair.length - 1 ? pair : `${pair.slice(0, equals + 1)}${maskPart(pair.slice(equals + 1))}`;
    }).join("&");
    tail = `${tail.slice(0, question + 1)}${maskedQuery}${hash === -1 ? "" : tail.slice(hash)}`;
  }
  return `${scheme}${maskedAuthority}${tail}`;
}

function maskPart(value: string): string {
  return value === "" || isEnvReference(value) ? value : maskSecret(value);
}

/** Where a string sits in a config-shaped value: what decides whether it is masked. */
interface Position {
  /** Its own key in its object ("" in an array). */
  readonly key: string;
  /** The key of the object or array holding it. */
  readonly container: string;
  /** In an array: the element before it. */
  readonly previous?: unknown;
}

/** One string, masked by its key name and by its position. */
function maskLeaf(value: string, position: Position): string {
  if (isEnvReference(value)) return value;
  if (position.key !== "" && isSecretKey(position.key)) return maskSecret(value);
  if (position.key !== "" && SECRET_CONTAINERS.has(position.container.toLowerCase())) return maskSecret(value);
  if (position.key === "") {
    if (typeof position.previous === "string" && SECRET_FLAG.test(position.previous)) return maskSecret(value);
    const flag = SECRET_FLAG_WITH_VALUE.exec(value);
    if (flag) return `${flag[1]}${maskPart(flag[2]!)}`;
  }
  return maskUrl(value);
}

/**
 * A deep copy of a config-shaped value with every secret masked: values under secret-named keys
 * (`apiKey`, `token`, …), every `headers`/`env` value, an argument after a key-like flag
 * (`--api-key VALUE`, `--api-key=VALUE`), and in every URL its userinfo and query values.
 * `${env:NAME}` references are shown as written.
 */
export function maskSecrets(value: unknown, key = "", container = ""): unknown {
  return maskAt(value, { key, container });
}

function maskAt(value: unknown, position: Position): unknown {
  if (Array.isArray(value)) {
    return value.map((item, index) => maskAt(item, { key: "", container: position.key || position.container, previous: value[index - 1] }));
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [childKey, child] of Object.entries(value)) out[childKey] = maskAt(child, { key: childKey, container: position.key });
    return out;
  }
  if (typeof value === "string") return maskLeaf(value, position);
  return value;
}

/**
 * Undo masking for a config sent back by a client: wherever `incoming` holds exactly the
 * masked form of the value at the same path in `current`, put the real value back. This is
 * what lets `GET /api/config` → edit → `PUT /api/config` round-trip without leaking secrets.
 */
export function restoreMaskedSecrets(incoming: unknown, current: unknown, key = ""): unknown {
  return restoreAt(incoming, current, { key, container: "" });
}

function restoreAt(incoming: unknown, current: unknown, position: Position): unknown {
  if (Array.isArray(incoming)) {
    const base = Array.isArray(current) ? current : [];
    return incoming.map((item, index) =>
      restoreAt(item, base[index], { key: "", container: position.key || position.container, previous: base[index - 1] }));
  }
  if (incoming !== null && typeof incoming === "object") {
    const base = current !== null && typeof current === "object" && !Array.isArray(current)
      ? (current as Record<string, unknown>)
      : {};
    const out: Record<string, unknown> = {};
    for (const [childKey, child] of Object.entries(incoming)) {
      out[childKey] = restoreAt(child, base[childKey], { key: childKey, container: position.key });
    }
    return out;
  }
  if (typeof incoming === "string" && typeof current === "string") {
    const masked = maskLeaf(current, position);
    if (masked !== current && incoming === masked) return current;
  }
  return incoming;
}
