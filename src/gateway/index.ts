export { startGateway } from "./start-gateway.ts";
export type { StartGatewayOptions, RunningGateway } from "./start-gateway.ts";
export { ComponentRegistry } from "./components.ts";
export type { ComponentStatus, ComponentUpdate } from "./components.ts";
export { ConfigService } from "./config-service.ts";
export type { ConfigUpdateResult } from "./config-service.ts";
export type { GatewayExtension, GatewayContext, ExtensionInstance } from "./extension.ts";
