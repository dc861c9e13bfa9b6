export { checkContainerConsistency, CONTAINER_CHECKS } from "./container-check.ts";
export type { ContainerCheck, ContainerFiles, ContainerProblem } from "./container-check.ts";
