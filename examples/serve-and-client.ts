// Serving: start a rankfn server in this process (Hono on Bun.serve, the model
// computing on its own worker thread) — listening at once, /readyz saying what
// still warms — then call it with the RankingClient in msgpack and in JSON, and
// with a gzip-compressed body. `bun examples/serve-and-client.ts`
// The same server from the command line: `bun run rankfn serve --model ctr=model.safetensors --port 8080`
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../runtime/server/app";
import { writeModel, zoo } from "../sdk";
import { RankingClient, ServerError } from "../sdk/client";
import { sampleRequests } from "../sdk/sample-requests";

const root = mkdtempSync(join(tmpdir(), "rankfn-serve-"));
const built = zoo.dcnv2.build({ seed: 1 });
writeModel(join(root, "ctr.safetensors"), built);

const server = createApp({ models: { ctr: "ctr.safetensors" }, modelRoot: root, modelOptions: { worker: true } });
// Listen before the model is warm: /healthz is 200 at once, /readyz 503 with each model's state.
const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: server.app.fetch });
const url = `http://127.0.0.1:${http.port}`;
const starting = await fetch(`${url}/readyz`);
console.log(`listening on ${url}: healthz ${(await fetch(`${url}/healthz`)).status}, readyz ${starting.status} ${await starting.text()}`);
await server.ready;
console.log(`ready: readyz ${(await fetch(`${url}/readyz`)).status}`);

const [request] = sampleRequests(built, { count: 1, candidates: 50 });
for (const format of ["msgpack", "json"] as const) {
  const client = new RankingClient({ url, format });
  const res = await client.rank("ctr", request!, { deadlineMs: 200 });
  console.log(`${format.padEnd(7)} v${res.version}: ${res.outputs.ctr!.shape[0]} scores, first ${res.outputs.ctr!.data[0]!.toFixed(4)}, compute ${res.timing.compute_ms.toFixed(2)} ms${res.timing.cold_start_ms ? `, cold start ${res.timing.cold_start_ms.toFixed(0)} ms` : ""}`);
}

// A gzip body (Content-Encoding: gzip; its decompressed size counts against the body limit), with curl's Accept: */*.
const rows = Array.from({ length: 3 }, (_, i) => Object.fromEntries(Object.entries(request!.candidates).map(([k, t]) => [k, Array.from(t.data.subarray(i * t.shape[1]!, (i + 1) * t.shape[1]!) as ArrayLike<number | bigint>, Number)])));
const context = Object.fromEntries(Object.entries(request!.context ?? {}).map(([k, t]) => [k, [Array.from(t.data as ArrayLike<number | bigint>, Number)]]));
const gz = await fetch(`${url}/v1/models/ctr/rank`, { method: "POST", body: Bun.gzipSync(JSON.stringify({ context, candidates: rows })), headers: { "Content-Type": "application/json", "Content-Encoding": "gzip", Accept: "*/*" } });
console.log(`gzip    ${gz.status} ${gz.headers.get("content-type")}: ${JSON.stringify(((await gz.json()) as { outputs: { ctr: number[][] } }).outputs.ctr)}`);

// A malformed request is a typed 4xx naming the field.
try {
  await new RankingClient({ url }).rank("ctr", { candidates: { dense: request!.candidates.dense! } });
} catch (err) {
  if (!(err instanceof ServerError)) throw err;
  console.log(`rejected: ${err.status} ${err.code}: ${err.message}`);
}
console.log((await (await fetch(`${url}/metrics`)).text()).split("\n").filter((l) => l.startsWith("rankfn_requests_total")).join("\n"));
http.stop();
await server.close();
