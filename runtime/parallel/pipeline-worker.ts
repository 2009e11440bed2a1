// Worker entry of one pipeline stage (runtime/parallel/pipeline.ts): holds the
// compiled model's plans (its own packed weights and arena) and runs its
// stage's steps of each microbatch on this thread, so stages compute at the
// same time. After the init message it never returns to its event loop: it
// waits on its control block (runtime/parallel/pipeline-control.ts) with
// Atomics.wait, and per command
//   prepare C: plan the C-row bucket, publish the addresses of the exchanged values
//   run i:     copy its live-ins from the previous stage's arena, mark them copied,
//              run steps [first, end), time them, mark done (or the failure)
//   stop:      dispose the executor and end.
import { ptr, toArrayBuffer } from "bun:ffi";
import { Executor } from "../engine/executor";
import type { Plan } from "../engine/plan";
import type { RunState } from "../engine/plan-context";
import type { BuiltModel } from "../graph/builder";
import type { Tensor } from "../tensor/tensor";
import { dtypes } from "../tensor/dtype";
import { Command, Ctl, StageControl, finish } from "./pipeline-control";

declare const self: Worker & { close(): void };

export type StageInit = {
  stage: number;
  graph: BuiltModel["graph"];
  weights: [string, Tensor][];
  maxBatch: number;
  /** History inputs (their offsets, when staged as values + offsets, are in the control block). */
  histories: string[];
  first: number;
  end: number;
  /** Values exchanged between stages (their addresses are published in this order). */
  exchanged: string[];
  /** Of `exchanged`: the indices this stage copies from the previous one. */
  liveIns: number[];
  /** Every stage's control block (this one's and its neighbour's are used). */
  controls: SharedArrayBuffer[];
  events: SharedArrayBuffer;
};

self.onmessage = (event: MessageEvent<StageInit>) => {
  const init = event.data;
  const own = new StageControl(init.controls[init.stage]!, init.events);
  let executor: Executor;
  try {
    executor = new Executor({ graph: init.graph, weights: new Map(init.weights) } satisfies BuiltModel, { maxBatch: init.maxBatch });
  } catch (err) {
    return answerFailed(own, `stage ${init.stage} could not load the model: ${(err as Error).message}`);
  }
  const previous = init.stage > 0 ? new StageControl(init.controls[init.stage - 1]!, init.events) : undefined;
  const info = executor.info.values;
  const elementBytes = init.exchanged.map((name) => {
    const v = info.get(name)!;
    return { bytes: v.shape.reduce((a, b) => a * b, 1) * dtypes[v.dtype].bytes, context: v.role === "context" };
  });
  let plan: Plan | undefined;
  let ownBytes: Uint8Array[] = [];
  let fromBytes: Uint8Array[] = [];
  let fromGeneration = -1;
  const state: RunState = { n: 0, r: 0, requestOfRow: own.requestOfRow };
  let seen = 0;
  for (;;) {
    seen = own.waitCommand(seen);
    const kind = own.ctl[Ctl.kind]!;
    if (kind === Command.stop) {
      executor.dispose();
      finish(own);
      self.close();
      return;
    }
    try {
      if (kind === Command.prepare) {
        const capacity = own.ctl[Ctl.n]!;
        plan = executor.plan(capacity, capacity);
        ownBytes = init.exchanged.map((name) => {
          const data = plan!.arenaData(name);
          own.setAddress(init.exchanged.indexOf(name), data && data.byteLength > 0 ? Number(ptr(data)) : 0);
          return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(0);
        });
        own.ctl[Ctl.generation] = own.ctl[Ctl.generation]! + 1;
        own.complete(seen, 0, 0);
        continue;
      }
      const n = own.ctl[Ctl.n]!, r = own.ctl[Ctl.r]!;
      const t0 = performance.timeOrigin + performance.now();
      if (previous && init.liveIns.length > 0) {
        // The previous stage's views, remade when it planned again (its addresses changed).
        if (fromGeneration !== previous.ctl[Ctl.generation]) {
          fromGeneration = previous.ctl[Ctl.generation]!;
          fromBytes = init.exchanged.map((_, i) => (init.liveIns.includes(i) ? new Uint8Array(toArrayBuffer(previous.address(i) as never, 0, ownBytes[i]!.byteLength)) : new Uint8Array(0)));
        }
        for (const i of init.liveIns) {
          const e = elementBytes[i]!;
          const bytes = (e.context ? r : n) * e.bytes;
          ownBytes[i]!.set(fromBytes[i]!.subarray(0, bytes));
        }
      }
      own.markCopied(seen);
      if (own.ctl[Ctl.failNext] !== 0) {
        own.ctl[Ctl.failNext] = 0;
        throw new Error("injected fault");
      }
      state.n = n;
      state.r = r;
      const jagged = own.ctl[Ctl.jagged]!;
      const counted = own.ctl[Ctl.lengths]!;
      state.sequenceLengths = counted === 0 ? undefined : Object.fromEntries(init.histories.flatMap((name, h) => (counted & (1 << h) ? [[name, own.lengths(h).subarray(0, r)]] : [])));
      state.sequenceOffsets = jagged === 0 ? undefined : Object.fromEntries(init.histories.flatMap((name, h) => (jagged & (1 << h) ? [[name, own.offsets(h).subarray(0, r + 1)]] : [])));
      const steps = plan!.steps;
      for (let i = init.first; i < init.end; i++) steps[i]!.run(state);
      own.times[0] = t0;
      own.times[1] = performance.timeOrigin + performance.now();
      own.complete(seen, 0, 0);
    } catch (err) {
      const e = err as Error & { status?: number; code?: string };
      own.markCopied(seen);
      own.setError(e.message, typeof e.code === "string" ? e.code : undefined);
      own.complete(seen, 1, typeof e.status === "number" ? e.status : 503);
    }
  }
};

/** A stage that could not start: every command fails with `message` (stop ends it). */
function answerFailed(own: StageControl, message: string): void {
  own.setError(message);
  for (let seen = 0; ; ) {
    seen = own.waitCommand(seen);
    if (own.ctl[Ctl.kind] === Command.stop) return finish(own);
    own.markCopied(seen);
    own.complete(seen, 1, 503);
  }
}
