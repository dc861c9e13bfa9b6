import { api } from "../api.js";
import { badge, errorAlert, h, replace } from "../dom.js";

export const title = "Tools";

export async function render(container) {
  const serversSlot = h("div", {}, h("p", { class: "muted" }, "Connecting to the MCP servers…"));
  const toolsSlot = h("div");
  replace(container, h("h1", {}, "Tools"),
    h("section", { class: "panel", "aria-labelledby": "servers-heading" }, h("h2", { id: "servers-heading" }, "MCP servers"), serversSlot),
    h("section", { "aria-labelledby": "tools-heading" }, h("h2", { id: "tools-heading" }, "Tools and their policy"),
      h("p", { class: "muted small" }, "auto runs at once; confirm waits for a yes (Approvals); deny never runs. Override with tools.policy in Config."), toolsSlot));
  try {
    const { servers } = await api("/api/mcp/servers");
    replace(serversSlot, servers.length === 0 ? h("p", { class: "muted" }, "No MCP servers configured (mcp.servers in Config).") : h("ul", { class: "list" }, servers.map((server) => h("li", {},
      h("div", { class: "row spread" }, h("strong", {}, server.name), badge(server.enabled ? server.state : "disabled")),
      h("p", { class: "small" }, server.reason),
      h("p", { class: "small muted" }, `${server.transport}${server.url ? ` · ${server.url}` : ""} · ${server.trusted ? "trusted" : "untrusted"} · ${server.toolCount} tools · key: ${server.authSource}`)))));
  } catch (error) {
    replace(serversSlot, errorAlert(error));
  }
  try {
    const { tools } = await api("/api/mcp/tools");
    const byServer = new Map();
    for (const tool of tools) byServer.set(tool.server, [...(byServer.get(tool.server) ?? []), tool]);
    replace(toolsSlot, byServer.size === 0 ? h("p", { class: "panel muted" }, "No tools listed.") : [...byServer].map(([server, list]) =>
      h("details", { class: "panel", open: byServer.size === 1 },
        h("summary", {}, h("strong", {}, server), ` · ${list.length} tools`),
        h("div", { class: "table-wrap" }, h("table", { class: "responsive-table" },
          h("thead", {}, h("tr", {}, h("th", {}, "Tool"), h("th", {}, "Policy"), h("th", {}, "Why"))),
          h("tbody", {}, list.map((tool) => h("tr", {},
            h("td", {}, h("code", {}, tool.serverToolName), tool.description ? h("div", { class: "small muted" }, tool.description.split("\n")[0]) : null),
            h("td", { "data-label": "Policy" }, badge(tool.policy.decision)),
            h("td", { "data-label": "Why", class: "small" }, tool.policy.reason)))))))));
  } catch (error) {
    replace(toolsSlot, errorAlert(error));
  }
}
