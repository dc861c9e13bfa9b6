import type { ToolNotice } from "../tools/index.ts";
import type { TurnResult } from "./agent-runtime.ts";

/** An open SSE response following a turn. */
export interface TurnStream {
  delta(text: string): void;
  notice(notice: ToolNotice): void;
}

/** What a running turn did next: finished, failed, or stopped to wait for a person's yes. */
export type TurnStep =
  | { readonly kind: "done"; readonly result: TurnResult }
  | { readonly kind: "failed"; readonly error: unknown }
  | { readonly kind: "paused"; readonly notice: ToolNotice };

/**
 * One agent turn seen from the HTTP side. A JSON client gets an answer as soon as the turn
 * pauses for an approval; the turn keeps running on the gateway, and whoever resumes it (the
 * next YES/NO in the session, or `POST /api/approvals/:id`) takes its next step as their reply.
 */
export class RunningTurn {
  readonly #notices: ToolNotice[] = [];
  readonly #settled: Promise<TurnStep>;
  #wake: (() => void) | undefined;
  #stream: TurnStream | undefined;

  constructor(run: (hooks: { onDelta: (text: string) => void; onNotice: (notice: ToolNotice) => void }) => Promise<TurnResult>, stream?: TurnStream) {
    // Attached before the turn starts: a notice can come synchronously (an approval asked again).
    this.#stream = stream;
    this.#settled = run({
      onDelta: (text) => this.#stream?.delta(text),
      onNotice: (notice) => {
        this.#notices.push(notice);
        this.#stream?.notice(notice);
        this.#wake?.();
      },
    }).then((result): TurnStep => ({ kind: "done", result }), (error: unknown): TurnStep => ({ kind: "failed", error }));
    void this.#settled.then(() => this.#wake?.());
  }

  /** An SSE stream is open for this turn: that stream, not the resuming request, gets the reply. */
  get streamOpen(): boolean {
    return this.#stream !== undefined;
  }

  /** Send this turn's text deltas and approval questions to `stream` (one at a time). */
  attach(stream: TurnStream): void {
    this.#stream = stream;
  }

  /** The stream closed (its client left): the next request that resumes the turn gets its reply. */
  detach(stream: TurnStream): void {
    if (this.#stream === stream) this.#stream = undefined;
  }

  /** The turn's final step (done or failed), whatever paused on the way. */
  finished(): Promise<TurnStep> {
    return this.#settled;
  }

  /**
   * The next step: a pause for an approval that is still pending (`isPending` skips the ones
   * already answered), or the end of the turn.
   */
  async next(isPending: (approvalId: string) => boolean): Promise<TurnStep> {
    for (;;) {
      let notice: ToolNotice | undefined;
      while ((notice = this.#notices.shift())) {
        if (isPending(notice.approval.id)) return { kind: "paused", notice };
      }
      const woken = new Promise<"woken">((resolve) => (this.#wake = () => resolve("woken")));
      const step = await Promise.race([this.#settled, woken]);
      this.#wake = undefined;
      if (step !== "woken" && this.#notices.length === 0) return step;
    }
  }
}

/**
 * Turns paused for an approval, by the approval they wait for: the turn that asked owns it (a
 * later message that only repeats the question never does), until it finishes.
 */
export class RunningTurns {
  readonly #byApproval = new Map<string, RunningTurn>();

  /** The turn waiting for `approvalId`, while it runs. */
  forApproval(approvalId: string): RunningTurn | undefined {
    return this.#byApproval.get(approvalId);
  }

  /** Remember that `turn` waits for `approvalId` (the first turn to report it keeps it). */
  track(approvalId: string, turn: RunningTurn): void {
    if (this.#byApproval.has(approvalId)) return;
    this.#byApproval.set(approvalId, turn);
    void turn.finished().then(() => {
      if (this.#byApproval.get(approvalId) === turn) this.#byApproval.delete(approvalId);
    });
  }
}
