// Worker entry of WorkerExecutor: loads and compiles the model inside its own
// thread (opening the kernel library itself), then runs staged batches posted
// by the main thread and posts the outputs back. Long batches never block the
// main thread's event loop.
import { compile, type CompileOptions } from "../compiler/compile";
import type { BuiltModel } from "../graph/builder";
import { readModel } from "../model/model-file";
import { setNumThreads } from "../ffi/device";
import type { Tensor } from "../tensor/tensor";
import type { TypedArray } from "../tensor/dtype";
import { Executor } from "./executor";
import type { ExpertParallelConfig, MoeStats } from "../moe/expert-parallel";

declare const self: Worker;

export type InitMessage = {
  type: "init";
  source: { path: string } | { graph: BuiltModel["graph"]; weights: [string, Tensor][] };
  options: CompileOptions & { maxBatch?: number; threads?: number; experts?: ExpertParallelConfig };
};
export type RunMessage = { type: "run"; id: number; n: number; r: number; requestOfRow: Int32Array; inputs: Record<string, TypedArray> };
export type WorkerReply =
  | { type: "ready"; outputs: { name: string; width: number; role: "context" | "candidate" }[] }
  | { type: "result"; id: number; outputs: Record<string, Float32Array>; moe?: MoeStats }
  | { type: "error"; id: number; error: { name: string; message: string; code?: string; status?: number } };

let executor: Executor | undefined;

self.onmessage = (event: MessageEvent<InitMessage | RunMessage>) => {
  const msg = event.data;
  const id = msg.type === "run" ? msg.id : -1;
  try {
    if (msg.type === "init") {
      if (msg.options.threads !== undefined) setNumThreads(msg.options.threads);
      const built: BuiltModel = "path" in msg.source ? readModel(msg.source.path) : { graph: msg.source.graph, weights: new Map(msg.source.weights) };
      executor = new Executor(compile(built, msg.options).model, { maxBatch: msg.options.maxBatch, experts: msg.options.experts });
      const outputs = Object.entries(executor.model.graph.outputs).map(([name, v]) => {
        const info = executor!.info.values.get(v)!;
        return { name, width: info.shape.reduce((a, b) => a * b, 1), role: info.role };
      });
      self.postMessage({ type: "ready", outputs } satisfies WorkerReply);
      return;
    }
    const out = executor!.run(msg);
    const result: Record<string, Float32Array> = {};
    for (const [name, view] of Object.entries(out)) {
      // Compact copy of the used rows (the arena is reused by the next batch).
      const data = new Float32Array(view.rows * view.width);
      for (let i = 0; i < view.rows; i++) data.set(view.data.subarray(i * view.ld, i * view.ld + view.width), i * view.width);
      result[name] = data;
    }
    self.postMessage({ type: "result", id, outputs: result, moe: executor!.experts?.stats() } satisfies WorkerReply, Object.values(result).map((a) => a.buffer as ArrayBuffer));
  } catch (err) {
    const e = err as Error & { code?: string; status?: number };
    self.postMessage({ type: "error", id, error: { name: e.name, message: e.message, code: e.code, status: e.status } } satisfies WorkerReply);
  }
};
