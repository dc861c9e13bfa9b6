import type { ToolCallContext, ToolDecision, ToolDescriptor, ToolPolicy, ToolResult, ToolSource } from "./tool-source.ts";
import { AUTO_POLICY } from "./tool-source.ts";

export interface ExecutedToolCall {
  readonly name: string;
  readonly arguments: Record<string, unknown>;
  readonly result: string;
  readonly isError: boolean;
  readonly decision: ToolDecision;
}

/**
 * All tools the agent may call, across sources, behind one policy decision point. A name the
 * model invents, a failing tool, or a denied call all become error results: never a thrown turn.
 */
export class ToolCatalog {
  readonly #sources: ToolSource[];
  readonly #policy: ToolPolicy;

  constructor(sources: readonly ToolSource[], policy: ToolPolicy = AUTO_POLICY) {
    this.#sources = [...sources];
    this.#policy = policy;
  }

  addSource(source: ToolSource): void {
    this.#sources.push(source);
  }

  list(): ToolDescriptor[] {
    return this.#sources.flatMap((source) => source.list());
  }

  async execute(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ExecutedToolCall> {
    for (const source of this.#sources) {
      const tool = source.list().find((candidate) => candidate.name === name);
      if (!tool) continue;
      const decision = this.#policy.decide(tool, source, args);
      if (decision !== "auto") {
        return { name, arguments: args, decision, isError: true, result: `Tool call not run: policy says ${decision}.` };
      }
      let result: ToolResult;
      try {
        result = await source.call(name, args, context);
      } catch (error) {
        result = { content: `Tool ${name} failed: ${(error as Error).message}`, isError: true };
      }
      return { name, arguments: args, decision, result: result.content, isError: result.isError ?? false };
    }
    return { name, arguments: args, decision: "deny", isError: true, result: `There is no tool named ${name}.` };
  }
}
