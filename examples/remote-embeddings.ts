// Embedding tables in Redis: push a model's tables, load the model with its
// tables served remotely (hot-row cache → host cache → Redis, a batch's misses
// in a few MGETs), check the scores equal the all-local model, update a row
// online, keep the hot head of the biggest table local (hot/cold split: only
// its cold rows are pushed), score synchronously from the local tiers, and
// read the tier counters.
// `bun examples/remote-embeddings.ts` — uses $REDIS_URL, or starts a
// throwaway redis-server on loopback when it is installed.
// The same from the command line:
//   bun run rankfn embeddings push model.safetensors --redis redis://127.0.0.1:6379
//   bun run rankfn serve --model ctr=model.safetensors --redis redis://127.0.0.1:6379 --on-redis-failure default
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, zoo } from "../sdk";
import { sampleRequests } from "../sdk/sample-requests";
import { RedisEmbeddingStore } from "../runtime/embeddings/redis-store";
import { pushTables } from "../runtime/embeddings/push";

let url = process.env.REDIS_URL;
let server: ReturnType<typeof Bun.spawn> | undefined;
const dir = mkdtempSync(join(tmpdir(), "rankfn-redis-"));
if (!url) {
  const bin = Bun.which("redis-server");
  if (!bin) throw new Error("set REDIS_URL or install redis-server (apt-get install redis-server)");
  const port = 20000 + Math.floor(Math.random() * 20000);
  server = Bun.spawn([bin, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""], { stdout: "ignore" });
  url = `redis://127.0.0.1:${port}`;
}

const built = zoo.dlrm.build({ scale: 0.0002 });
const store = new RedisEmbeddingStore({ url, prefix: "rankfn:dlrm" }); // loadModel's default prefix: rankfn:<model name>
for (let i = 0; !(await store.connect(1000).then(() => true, () => false)); i++) {
  if (i === 100) throw new Error(`no Redis answering at ${url}`);
  await Bun.sleep(50);
}
const bytes = await pushTables(built, store);
store.close();
console.log(`pushed ${(bytes / 2 ** 20).toFixed(1)} MiB of embedding rows to ${url}`);

using local = loadModel(built);
using remote = loadModel(built, {
  // Redis slower than 500 ms or down: score with the table's mean row and flag the response degraded.
  embeddings: { redis: url, tables: "all", hotCacheBytes: 4 << 20, timeoutMs: 500, onFailure: "default", defaultRow: "mean" },
});
await remote.ready();
const [request] = sampleRequests(built, { count: 1, candidates: 200 });
const want = local.rankSync(request!).outputs.ctr!.data;
for (const pass of ["cold", "warm"]) {
  const t0 = performance.now();
  const res = await remote.rank(request!);
  const same = res.outputs.ctr!.data.every((v, i) => v === want[i]);
  console.log(`${pass}: ${res.outputs.ctr!.shape[0]} scores in ${(performance.now() - t0).toFixed(1)} ms, equal to all-local: ${same}${res.degraded ? " (degraded: Redis missed the deadline)" : ""}`);
}

// An online update: every model following these tables uses the new row from its next batch on.
const id = Number((request!.candidates.cat_9!.data as BigInt64Array).find((v) => v >= 0n));
await remote.updateEmbeddings("emb_9.table", [id], new Float32Array(128).fill(0.1));
const after = await remote.rank(request!);
console.log(`after updating row ${id} of emb_9.table: first score ${after.outputs.ctr!.data[0]!.toFixed(5)} (was ${want[0]!.toFixed(5)})`);

const s = remote.stats().embeddings!;
const t = s.tables["emb_9.table"]!;
console.log(`emb_9.table: hot ${t.hot!.hits} hits / ${t.hot!.misses} misses (admitted ${t.admission.admitted}, kept out ${t.admission.rejected}), host ${t.host.hits}/${t.host.misses}, ${t.remote.rows} rows (${t.remote.bytes} bytes) from Redis`);
console.log(`redis: ${s.redis.batches} batches in ${s.redis.commands} MGETs and ${s.redis.roundTrips} round trips, ${(s.redis.latencyMsSum / Math.max(1, s.redis.batches)).toFixed(2)} ms mean, ${s.updates} updates applied`);

// rankSync never waits for Redis: it scores when every row is local (here: in the host cache after rank()), else throws remote_rows_not_local.
try {
  console.log(`rankSync from the local tiers: first score ${remote.rankSync(request!).outputs.ctr!.data[0]!.toFixed(5)}`);
} catch (err) {
  if ((err as { code?: string }).code !== "remote_rows_not_local") throw err;
  console.log(`rankSync declined (${(err as Error).message}); rank() fetches what is missing`);
}

// Hot/cold split: the 5% most used rows of emb_0 (ranked by a frequency file: per-row counts) stay in memory, the rest in Redis.
const rows0 = built.weights.get("emb_0.table")!.shape[0]!;
// The counts would come from training or traffic logs; here: from the ids this example's request uses.
const counts = new Float64Array(rows0);
const cat0 = (request!.context?.cat_0 ?? request!.candidates.cat_0)!.data as BigInt64Array;
for (const v of cat0) if (v >= 0n) counts[Number(v)]!++;
const split = { "emb_0.table": { hotRows: 0.05, counts } };
const splitStore = new RedisEmbeddingStore({ url, prefix: "rankfn:dlrm-split" });
const coldBytes = await pushTables(built, splitStore, { tables: ["emb_0.table"], split }); // uploads the cold 95% only
splitStore.close();
using hotCold = loadModel(built, { embeddings: { redis: url, prefix: "rankfn:dlrm-split", tables: { "emb_0.table": { local: "hot", ...split["emb_0.table"] } } } });
const res = await hotCold.rank(request!);
const e0 = hotCold.stats().embeddings!.tables["emb_0.table"]!;
console.log(`hot/cold split of emb_0: ${e0.local!.rows} rows local, ${(coldBytes / 2 ** 20).toFixed(1)} MiB pushed; ${e0.local!.hits} lookups local, ${e0.remote.rows} from Redis; equal to all-local: ${res.outputs.ctr!.data.every((v, i) => v === want[i])}`);

server?.kill();
await server?.exited;
rmSync(dir, { recursive: true, force: true });
