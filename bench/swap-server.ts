// Child process of `bench swap`: a rankfn server (worker mode, static
// coalescing) serving one model, printing its URL; the benchmark hot-swaps the
// model through PUT /v1/models/:name while it keeps the server under load.
//   bun bench/swap-server.ts <model.safetensors> <model root>
import { createApp } from "../runtime/server/app";

const [modelPath, root] = process.argv.slice(2);
const server = createApp({
  models: { dlrm: modelPath! },
  modelRoot: root!,
  modelOptions: { worker: true },
  defaultDeadlineMs: 5000,
  coalescing: { policy: "static", maxBatchRows: 1024, maxQueueDelayUs: 2000, maxQueueRows: 16384 },
});
await server.ready;
const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: server.app.fetch });
console.log(`ready http://127.0.0.1:${http.port}`);
