// `rankfn embeddings push <model> --redis URL [--tables a,b] [--prefix P]`:
// upload a model file's embedding tables to Redis (rows in the remote tier's
// binary layout, then each table's metadata), with a progress bar on stderr.
import { formatBytes, parseArgs, progressBar } from "./cli-support";
import { readModel } from "../runtime/model/model-file";
import { RedisEmbeddingStore } from "../runtime/embeddings/redis-store";
import { pushTables } from "../runtime/embeddings/push";
import { embeddingTables } from "../runtime/embeddings/resolver";

const usage = "usage: rankfn embeddings push <model.safetensors> --redis redis://host:port [--tables a,b] [--prefix rankfn:<model name>]";

export const embeddingsCommand = {
  summary: "upload embedding tables to Redis (the remote tier): embeddings push <model> --redis URL [--tables a,b] [--prefix P]",
  async run(args: string[]): Promise<void> {
    const { positional, flags } = parseArgs(args, ["redis", "tables", "prefix"]);
    const [sub, path] = positional;
    if (sub !== "push" || !path || positional.length > 2 || !flags.redis) throw new Error(usage);
    const model = readModel(path);
    const tables = flags.tables ? flags.tables.split(",").filter(Boolean) : embeddingTables(model.graph);
    const store = new RedisEmbeddingStore({ url: flags.redis, prefix: flags.prefix ?? `rankfn:${model.graph.name}` });
    try {
      await store.connect(5000);
      const bar = progressBar(`pushing ${tables.length} tables to ${flags.redis}`);
      const t0 = performance.now();
      const bytes = await pushTables(model, store, { tables, onProgress: (p) => bar(p.bytesDone, p.bytesTotal) });
      const s = (performance.now() - t0) / 1000;
      console.log(`pushed    ${tables.length} tables (${tables.join(", ")})`);
      console.log(`rows      ${formatBytes(bytes)} in ${s.toFixed(1)} s`);
      console.log(`keys      ${store.prefix}:<table>:{<row % 64>}:<row>  (metadata: ${store.prefix}:<table>:meta)`);
      console.log(`serve     loadModel("${path}", { embeddings: { redis: "${flags.redis}", tables: ${flags.tables ? JSON.stringify(tables) : '"all"'}${flags.prefix ? `, prefix: "${flags.prefix}"` : ""} } })`);
    } finally {
      store.close();
    }
  },
};
