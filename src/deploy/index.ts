export { checkContainerConsistency, CONTAINER_CHECKS } from "./container-check.ts";
export type { ContainerCheck, ContainerFiles, ContainerProblem } from "./container-check.ts";
export { deployFly, pushConfig, renderFlyToml, secretsNeeded, VOLUME_NAME } from "./fly/deploy-fly.ts";
export type { DeployFlyOptions, DeployEvent, DeployResult } from "./fly/deploy-fly.ts";
export { deployStatus, deployLogs, deployUnlock, deployConfigPush, deployConfigPull, deployDestroy } from "./fly/deploy-commands.ts";
export { createFlyctl } from "./fly/flyctl.ts";
