import type { FastifyInstance } from "fastify";
import { CREDENTIAL_VARIABLES, maskSecret, type FaradayConfig } from "../config/index.ts";
import type { SecretStore } from "../state/index.ts";
import { checkModelProvider, type ModelCheck } from "./models/model-check.ts";
import type { ModelRef } from "./models/index.ts";

/** One credential as the gateway sees it: where it comes from and a masked hint, never the value. */
export interface CredentialView {
  readonly name: string;
  readonly source: "environment" | "secret store";
  readonly hint: string;
}

export interface DoctorReport {
  readonly credentials: readonly CredentialView[];
  readonly model: ModelCheck;
}

/**
 * `GET /api/doctor[?offline=1]` (token): what `faraday doctor` asks a running gateway — the
 * credentials in the gateway's own environment and secret store (masked), and the model check
 * made with the gateway's keys (one `GET /v1/models`, none with `offline=1`).
 */
export function doctorRoutes(deps: {
  config: () => FaradayConfig | undefined;
  env: Readonly<Record<string, string | undefined>>;
  secrets: SecretStore;
}) {
  return (app: FastifyInstance) => {
    app.get("/api/doctor", async (request): Promise<DoctorReport> => {
      const offline = (request.query as { offline?: string } | undefined)?.offline === "1";
      const config = deps.config();
      const modelRef = config?.agents?.defaults?.model as ModelRef | undefined;
      const model = await checkModelProvider({
        env: deps.env,
        offline,
        ...(modelRef === undefined ? {} : { modelRef }),
        ...(config?.models?.providers ? { providers: config.models.providers } : {}),
      });
      const credentials: CredentialView[] = [
        ...CREDENTIAL_VARIABLES.flatMap((name) => {
          const value = deps.env[name];
          return value ? [{ name, source: "environment" as const, hint: maskSecret(value) }] : [];
        }),
        ...deps.secrets.names().map((name) => ({ name, source: "secret store" as const, hint: maskSecret(deps.secrets.get(name) ?? "") })),
      ];
      return { credentials, model };
    });
  };
}
