// `rankfn embeddings push <model> --redis URL [--tables a,b] [--prefix P] [--hot-rows N|F [--counts file.json]]`:
// upload a model file's embedding tables to Redis (rows in the remote tier's
// binary layout, then each table's metadata), with a progress bar on stderr.
// With --hot-rows only each table's cold part is uploaded: its N (or fraction F)
// most frequent rows — ranked by the per-row counts in file.json
// ({ "<table>": [count per row] }), else lower ids first — stay in the model's memory.
import { readFileSync } from "node:fs";
import { formatBytes, parseArgs, progressBar } from "./cli-support";
import { readModel } from "../runtime/model/model-file";
import { RedisEmbeddingStore } from "../runtime/embeddings/redis-store";
import { pushTables } from "../runtime/embeddings/push";
import { embeddingTables } from "../runtime/embeddings/resolver";

const usage = "usage: rankfn embeddings push <model.safetensors> --redis redis://host:port [--tables a,b] [--prefix rankfn:<model name>] [--hot-rows N|fraction [--counts counts.json]]";

export const embeddingsCommand = {
  summary: "upload embedding tables to Redis (the remote tier): embeddings push <model> --redis URL [--tables a,b] [--prefix P] [--hot-rows N|F [--counts file]]",
  async run(args: string[]): Promise<void> {
    const { positional, flags } = parseArgs(args, ["redis", "tables", "prefix", "hot-rows", "counts"]);
    const [sub, path] = positional;
    if (sub !== "push" || !path || positional.length > 2 || !flags.redis) throw new Error(usage);
    if (flags.counts && !flags["hot-rows"]) throw new Error(`--counts ranks the rows of a hot/cold split: give --hot-rows too\n${usage}`);
    const model = readModel(path);
    const tables = flags.tables ? flags.tables.split(",").filter(Boolean) : embeddingTables(model.graph);
    const split = flags["hot-rows"] ? hotSplit(tables, flags["hot-rows"], flags.counts) : undefined;
    const store = new RedisEmbeddingStore({ url: flags.redis, prefix: flags.prefix ?? `rankfn:${model.graph.name}` });
    try {
      await store.connect(5000);
      const bar = progressBar(`pushing ${tables.length} tables to ${flags.redis}`);
      const t0 = performance.now();
      const bytes = await pushTables(model, store, { tables, split, onProgress: (p) => bar(p.bytesDone, p.bytesTotal) });
      const s = (performance.now() - t0) / 1000;
      console.log(`pushed    ${tables.length} tables (${tables.join(", ")})${split ? `, their cold rows only (hot rows: ${flags["hot-rows"]} per table${flags.counts ? `, ranked by ${flags.counts}` : ", lowest ids"})` : ""}`);
      console.log(`rows      ${formatBytes(bytes)} in ${s.toFixed(1)} s`);
      console.log(`keys      ${store.prefix}:<table>:{<row % 64>}:<row>  (metadata: ${store.prefix}:<table>:meta)`);
      const served = split ? `{ ${tables.map((t) => `"${t}": { local: "hot", hotRows: ${split[t]!.hotRows}${flags.counts ? ", counts" : ""} }`).join(", ")} }` : flags.tables ? JSON.stringify(tables) : '"all"';
      console.log(`serve     loadModel("${path}", { embeddings: { redis: "${flags.redis}", tables: ${served}${flags.prefix ? `, prefix: "${flags.prefix}"` : ""} } })`);
    } finally {
      store.close();
    }
  },
};

/** --hot-rows (a count or a fraction) for every pushed table, ranked by --counts' per-table arrays when given. */
function hotSplit(tables: string[], hotRows: string, countsPath: string | undefined): Record<string, { hotRows: number; counts?: number[] }> {
  const n = Number(hotRows);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`--hot-rows ${hotRows}: a row count >= 1 or a fraction in (0, 1)\n${usage}`);
  let counts: Record<string, unknown> = {};
  if (countsPath) {
    try {
      counts = JSON.parse(readFileSync(countsPath, "utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`--counts ${countsPath}: ${(err as Error).message} (expected JSON { "<table>": [count per row] })`);
    }
  }
  return Object.fromEntries(
    tables.map((t) => {
      const c = counts[t];
      if (c !== undefined && !(Array.isArray(c) && c.every((v) => typeof v === "number"))) throw new Error(`--counts ${countsPath}: "${t}" must be an array of per-row counts`);
      return [t, c ? { hotRows: n, counts: c as number[] } : { hotRows: n }];
    }),
  );
}
