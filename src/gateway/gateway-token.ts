import { randomBytes } from "node:crypto";
import { configuredToken, type Environment, type FaradayConfig, type TokenSource } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { SECRET_NAMES, type SecretStore } from "../state/index.ts";

/**
 * Decide the token `/api/*` accepts: `OPENCLAW_GATEWAY_TOKEN` > `gateway.auth.token` > (loopback
 * only) the one kept in the secret store, generated on first start.
 * @throws FaradayError TOKEN_REQUIRED for a non-loopback bind without an explicit token.
 */
export function resolveGatewayToken(input: {
  environment: Environment;
  config: FaradayConfig | undefined;
  loopback: boolean;
  bindDescription: string;
  secrets: () => SecretStore;
}): { token: string; source: TokenSource; generated: boolean } {
  const explicit = configuredToken(input.environment, input.config);
  if (explicit) return { ...explicit, generated: false };
  if (!input.loopback) {
    throw new FaradayError(
      "TOKEN_REQUIRED",
      `refusing to listen on ${input.bindDescription} without a gateway token: anyone who can reach the port could use the API. ` +
        `Set OPENCLAW_GATEWAY_TOKEN (e.g. \`fly secrets set OPENCLAW_GATEWAY_TOKEN=$(openssl rand -hex 32)\`), or bind to loopback`,
    );
  }
  const store = input.secrets();
  const stored = store.get(SECRET_NAMES.gatewayToken);
  if (stored) return { token: stored, source: "state", generated: false };
  const token = randomBytes(32).toString("base64url");
  store.set(SECRET_NAMES.gatewayToken, token);
  return { token, source: "state", generated: true };
}
