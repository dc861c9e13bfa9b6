import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../state/index.ts";

/** Memory injected into the system prompt is capped; the rest stays readable through memory_read. */
export const MEMORY_PROMPT_LIMIT = 8_000;

const MEMORY_TEMPLATE = "# Memory\n\nLong-term notes the assistant keeps. A person may edit this file.\n";

/** `agents/<id>/AGENTS.md` (instructions) and `MEMORY.md` (long-term memory), human-editable. */
/** How long a read of AGENTS.md / MEMORY.md is reused: a person's edit shows up within this. */
const READ_CACHE_MS = 2_000;

export class AgentFiles {
  readonly #root: string;
  readonly #writes = new Map<string, Promise<unknown>>();
  readonly #cache = new Map<string, { at: number; text: Promise<string> }>();

  constructor(agentsDir: string) {
    this.#root = agentsDir;
  }

  directory(agentId: string): string {
    return join(this.#root, agentId);
  }

  async readInstructions(agentId: string): Promise<string> {
    return this.#read(this.#paths(agentId).instructions);
  }

  async readMemory(agentId: string): Promise<string> {
    return this.#read(this.#paths(agentId).memory);
  }

  readonly #pathCache = new Map<string, { instructions: string; memory: string }>();

  /** Both files' paths, joined once per agent (every turn reads both). */
  #paths(agentId: string): { instructions: string; memory: string } {
    let paths = this.#pathCache.get(agentId);
    if (!paths) {
      const directory = this.directory(agentId);
      paths = { instructions: join(directory, "AGENTS.md"), memory: join(directory, "MEMORY.md") };
      if (this.#pathCache.size >= 256) this.#pathCache.clear();
      this.#pathCache.set(agentId, paths);
    }
    return paths;
  }

  /** Memory bounded for the prompt: the head, and a note that there is more. */
  async memoryForPrompt(agentId: string): Promise<string> {
    const memory = (await this.readMemory(agentId)).trim();
    if (memory.length <= MEMORY_PROMPT_LIMIT) return memory;
    return `${memory.slice(0, MEMORY_PROMPT_LIMIT)}\n… (memory truncated at ${MEMORY_PROMPT_LIMIT} characters; call memory_read for the rest)`;
  }

  /**
   * Append to memory (under `section` when given) or replace one `## section` whole. Written
   * atomically; writes to one agent's memory are serialised.
   */
  writeMemory(agentId: string, input: { content: string; mode: "append" | "replace"; section?: string }): Promise<string> {
    const previous = this.#writes.get(agentId) ?? Promise.resolve();
    const next = previous.then(async () => {
      await mkdir(this.directory(agentId), { recursive: true, mode: 0o700 });
      const current = (await this.readMemory(agentId)) || MEMORY_TEMPLATE;
      const updated = applyMemoryEdit(current, input);
      const path = join(this.directory(agentId), "MEMORY.md");
      await writeFileAtomic(path, updated);
      this.#cache.delete(path);
      return updated;
    });
    this.#writes.set(agentId, next.catch(() => {}));
    return next;
  }

  #read(path: string): Promise<string> {
    const cached = this.#cache.get(path);
    if (cached && Date.now() - cached.at < READ_CACHE_MS) return cached.text;
    const text = this.#readFile(path);
    this.#cache.set(path, { at: Date.now(), text });
    if (this.#cache.size > 256) this.#cache.delete(this.#cache.keys().next().value!);
    return text;
  }

  async #readFile(path: string): Promise<string> {
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
      throw error;
    }
  }
}

/** Pure edit of a Markdown memory file. Exported for tests. */
export function applyMemoryEdit(current: string, input: { content: string; mode: "append" | "replace"; section?: string }): string {
  const text = input.content.trim();
  const base = current.endsWith("\n") ? current : `${current}\n`;
  if (!input.section) {
    if (input.mode === "replace") return `${text}\n`;
    return `${base}\n${text}\n`;
  }
  const heading = `## ${input.section.trim()}`;
  const lines = base.split("\n");
  const start = lines.findIndex((line) => line.trim().toLowerCase() === heading.toLowerCase());
  if (start === -1) return `${base}\n${heading}\n\n${text}\n`;
  let end = lines.findIndex((line, index) => index > start && /^#{1,2} /.test(line));
  if (end === -1) end = lines.length;
  const body = lines.slice(start + 1, end).join("\n").trim();
  const newBody = input.mode === "replace" ? text : body ? `${body}\n${text}` : text;
  return [...lines.slice(0, start + 1), "", newBody, "", ...lines.slice(end)].join("\n").replace(/\n{3,}/g, "\n\n").replace(/\n*$/, "\n");
}
