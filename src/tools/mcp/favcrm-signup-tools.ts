import { modelToolName } from "../tool-naming.ts";
import type { McpTool } from "./mcp-connection.ts";

/**
 * The two FavCRM tools that need no key, described up front so an assistant with no FavCRM
 * account can offer signup without the gateway loading the MCP SDK and connecting on every start.
 * The first call connects for real; from then on the server's own tool list is used.
 */
export const FAVCRM_SIGNUP_TOOLS: readonly McpTool[] = [
  {
    name: modelToolName("favcrm", "register_organisation_request"),
    serverToolName: "register_organisation_request",
    description:
      "Start creating a FavCRM workspace for this business (no account needed). Sends a one-time code to the email; " +
      "then call register_organisation_verify with that code. Limited to 3 requests per hour.",
    inputSchema: {
      type: "object",
      properties: {
        email: { type: "string", description: "The owner's email; the code is sent there" },
        organisationName: { type: "string" },
        industry: { type: "string" },
        country: { type: "string", description: "ISO country code, e.g. HK" },
        timezone: { type: "string", description: "IANA time zone, e.g. Asia/Hong_Kong" },
      },
      required: ["email", "organisationName", "industry", "country", "timezone"],
    },
    // It emails a person: open-world, so the owner confirms the address first.
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
  },
  {
    name: modelToolName("favcrm", "register_organisation_verify"),
    serverToolName: "register_organisation_verify",
    description: "Finish FavCRM signup with the code from the email. The gateway keeps the new API key; you never see it.",
    inputSchema: {
      type: "object",
      properties: { requestId: { type: "string" }, code: { type: "string", description: "The 6-digit code from the email" } },
      required: ["requestId", "code"],
    },
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  },
];
