import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FaradayError } from "../errors/index.ts";
import { writeFileAtomic } from "../state/index.ts";

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A checklist, not a document: bounded so a heartbeat stays cheap. */
export const HEARTBEAT_MAX_CHARS = 16_000;

/** agents/<id>/HEARTBEAT.md: the checklist the heartbeat reads (editable from the dashboard). */
export class HeartbeatFile {
  readonly #agentsDir: string;

  constructor(agentsDir: string) {
    this.#agentsDir = agentsDir;
  }

  #path(agentId: string): string {
    if (!AGENT_ID.test(agentId)) throw new FaradayError("BAD_REQUEST", `"${agentId}" is not an agent id (letters, digits, - or _)`);
    return join(this.#agentsDir, agentId, "HEARTBEAT.md");
  }

  /** The checklist, or "" when there is none. */
  async read(agentId: string): Promise<string> {
    try {
      return await readFile(this.#path(agentId), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
      throw error;
    }
  }

  /** @throws FaradayError BAD_REQUEST when the text is over HEARTBEAT_MAX_CHARS. */
  async write(agentId: string, text: string): Promise<void> {
    if (text.length > HEARTBEAT_MAX_CHARS) throw new FaradayError("BAD_REQUEST", `HEARTBEAT.md is limited to ${HEARTBEAT_MAX_CHARS} characters (it is read at every heartbeat); shorten the checklist`);
    const path = this.#path(agentId);
    await mkdir(join(this.#agentsDir, agentId), { recursive: true });
    await writeFileAtomic(path, text);
  }
}
