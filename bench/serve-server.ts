// Child process of `bench serve`: one server under test, printing its URL.
//   bun bench/serve-server.ts <off|static-<delay>ms|adaptive|ort> <model.safetensors> <model.onnx> <adaptive SLO ms>
// rankfn modes run createApp with that coalescing policy; "ort" is the peer a
// TypeScript user would write: Hono + onnxruntime-node, one session.run per request.
import { Hono } from "hono";
import * as ort from "onnxruntime-node";
import { createApp } from "../runtime/server/app";
import { readModel } from "../runtime/model/model-file";
import { MSGPACK, decodeRequest, encodeResponse } from "../runtime/server/wire";
import type { Tensor } from "../runtime/tensor/tensor";

const [mode, modelPath, onnxPath, slo] = process.argv.slice(2);
let fetchHandler: (req: Request) => Response | Promise<Response>;

if (mode === "ort") {
  const graph = readModel(modelPath!).graph;
  const session = await ort.InferenceSession.create(onnxPath!, { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const app = new Hono();
  app.post("/v1/models/:name/rank", async (c) => {
    const wire = decodeRequest(new Uint8Array(await c.req.arrayBuffer()), c.req.header("content-type"), graph.inputs, { maxRows: 4096, maxElements: 1 << 22 });
    const req = wire.request;
    // The peer has no context broadcast: context features are repeated for every candidate.
    const cand = "rows" in req ? req.rows : req.candidates;
    const n = Object.values(cand)[0]!.shape[0]!;
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of graph.inputs) {
      let t: Tensor | undefined = cand[input.name];
      if (!t && "context" in req) {
        const c1 = req.context![input.name]!;
        const w = c1.shape[1]!;
        const data = new BigInt64Array(n * w);
        for (let i = 0; i < n; i++) data.set(c1.data as BigInt64Array, i * w);
        t = { dtype: "i64", shape: [n, w], data };
      }
      feeds[input.name] = new ort.Tensor(input.dtype === "f32" ? "float32" : "int64", t!.data as Float32Array, t!.shape);
    }
    const t0 = performance.now();
    const out = await session.run(feeds);
    const scores = Object.values(out)[0]!.data as Float32Array;
    const body = encodeResponse({ outputs: { ctr: { dtype: "f32", shape: [n, 1], data: scores } }, model: "dlrm", version: 1, timing: { queue_ms: 0, compute_ms: performance.now() - t0 } }, true);
    return c.body(body as never, 200, { "Content-Type": MSGPACK });
  });
  app.onError((err, c) => c.json({ error: { message: err.message } }, 400));
  fetchHandler = app.fetch;
} else {
  const policy = mode!.startsWith("static") ? "static" : (mode as "off" | "adaptive");
  const delayMs = mode!.startsWith("static-") ? Number(mode!.slice(7).replace("ms", "")) : 4;
  const server = createApp({
    models: { dlrm: modelPath! },
    modelRoot: "/",
    modelOptions: { worker: true, maxBatch: 4096 },
    defaultDeadlineMs: 2000,
    coalescing: { policy, maxBatchRows: 1024, maxQueueDelayUs: delayMs * 1000, maxQueueRows: 8192, sloP99Ms: policy === "adaptive" ? Number(slo ?? 20) : undefined },
  });
  await server.ready;
  fetchHandler = server.app.fetch;
}

const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: fetchHandler });
console.log(`ready http://127.0.0.1:${http.port}`);
