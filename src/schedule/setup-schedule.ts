import type { FaradayConfig } from "../config/index.ts";
import type { Logger } from "../logging/index.ts";
import type { Database } from "../state/index.ts";
import type { ToolNotice } from "../tools/index.ts";
import { HeartbeatFile } from "./heartbeat-file.ts";
import { configOwnerDirectory, type OwnerDirectory } from "./owner-directory.ts";
import { realScheduleClock, type ScheduleClock } from "./schedule-clock.ts";
import { scheduleRoutes } from "./schedule-routes.ts";
import { ScheduleService } from "./schedule-service.ts";
import { ScheduleStore } from "./schedule-store.ts";
import { createScheduleTools } from "./schedule-tools.ts";
import { Scheduler, type ScheduledTurn, type ScheduledTurnResult } from "./scheduler.ts";

/** What the schedule needs from the channels (the channel service behind a port). */
export interface ScheduleChannels {
  /** Store a message the gateway starts; undefined when this key was stored before. */
  store(channel: string, chat: string, text: string, key: string): unknown;
  /** Queue a stored message for sending (no-op when the channels are not running: sent at their start). */
  send(stored: unknown): void;
  /** Did this chat ever write to the gateway? */
  knownChat(channel: string, chat: string): boolean;
  /** The chats a person wrote from, most recent first. */
  chatsOf(channel: string, sender: string): string[];
  notify(channel: string, chat: string, notice: ToolNotice): void;
}

export interface SetupScheduleInput {
  readonly database: Database;
  readonly agentsDir: string;
  readonly config: () => FaradayConfig | undefined;
  readonly logger: Logger;
  readonly channels: ScheduleChannels;
  readonly turn: (input: ScheduledTurn) => Promise<ScheduledTurnResult>;
  readonly clock?: ScheduleClock;
  /** The roles work's directory; the config's `channels.<name>.owners` otherwise. */
  readonly owners?: OwnerDirectory;
}

/**
 * The schedule capability, wired: store, scheduler (one timer), service, tools, routes. The
 * agent extension calls `start` after the channels and `configChanged` on every config change.
 */
export function setupSchedule(input: SetupScheduleInput) {
  const clock = input.clock ?? realScheduleClock;
  const store = new ScheduleStore(input.database);
  const owners = input.owners ?? configOwnerDirectory(input.config, (channel, sender) => input.channels.chatsOf(channel, sender));
  const heartbeat = new HeartbeatFile(input.agentsDir);
  let service: ScheduleService | undefined;
  const scheduler = new Scheduler({
    store, clock, owners, logger: input.logger, turn: input.turn,
    heartbeatChecklist: (agentId) => heartbeat.read(agentId),
    catchUpMinutes: () => service?.catchUpMinutes() ?? 60,
    outbox: {
      store: (channel, chat, text, key) => input.channels.store(channel, chat, text, key),
      send: (stored) => input.channels.send(stored),
      notify: (channel, chat, notice) => input.channels.notify(channel, chat, notice),
      mayStart(channel, chat, job) {
        // Owners on any channel they use; a chat that made the job; a chat that wrote in before.
        if (owners.owners().some((owner) => owner.channel === channel && owner.chat === chat)) return undefined;
        if (job.origin && job.origin.channel === channel && job.origin.chat === chat) return undefined;
        if (input.channels.knownChat(channel, chat)) return undefined;
        return `not sent: ${channel} chat ${chat} never wrote to this gateway and is not an owner's, and the gateway does not start conversations`;
      },
    },
  });
  service = new ScheduleService({ store, scheduler, clock, config: input.config, logger: input.logger });
  const enabled = () => input.config()?.cron?.enabled !== false;
  let started = false;
  return {
    store,
    scheduler,
    owners,
    heartbeat,
    service: () => (enabled() ? service : undefined),
    tools: createScheduleTools(() => (enabled() ? service : undefined)),
    routes: scheduleRoutes({ service: () => (enabled() ? service : undefined), heartbeat }),
    start() {
      service!.syncConfig();
      if (enabled()) {
        scheduler.start();
        started = true;
      }
    },
    configChanged() {
      service!.syncConfig();
      if (enabled() && !started) {
        scheduler.start();
        started = true;
      } else if (!enabled() && started) {
        void scheduler.stop();
        started = false;
      }
    },
    async stop() {
      started = false;
      await scheduler.stop();
    },
  };
}

export type ScheduleCapability = ReturnType<typeof setupSchedule>;
