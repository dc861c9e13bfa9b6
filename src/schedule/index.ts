/** What the rest of the gateway may use of the schedule capability. */
export { setupSchedule } from "./setup-schedule.ts";
export type { ScheduleCapability, ScheduleChannels, SetupScheduleInput } from "./setup-schedule.ts";
export type { OwnerChat, OwnerDirectory, PeopleOwners } from "./owner-directory.ts";
export { peopleOwnerDirectory } from "./owner-directory.ts";
export type { ScheduleClock } from "./schedule-clock.ts";
export { HEARTBEAT_SENTINEL } from "./scheduler.ts";
export type { ScheduledTurn, ScheduledTurnResult } from "./scheduler.ts";
