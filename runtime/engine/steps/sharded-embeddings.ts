// Steps of the pooled lookups (embedding_bag, embedding_bags) when the model
// shards its tables over devices (`parallel.embeddings`): the ids are prepared
// as on one device (steps/sparse.ts), then runtime/parallel/sharded-lookup.ts
// runs each device's part and assembles the pooled rows into the outputs.
import { ShardedLookup, type LookupTable } from "../../parallel/sharded-lookup";
import { type StepBuilder, rowsOf } from "../plan-context";
import { bagSource } from "./sparse";

const shardedBags: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const single = node.op === "embedding_bag";
  const t = node.inputs.length / 2;
  const tables: LookupTable[] = Array.from({ length: t }, (_, i) => {
    const ids = node.inputs[i]!, table = node.inputs[t + i]!;
    const mode = single ? a.mode : a.modes[i];
    const src = bagSource(ctx, node, i, ids, table, mode, single ? a.idPolicy : a.idPolicies[i]);
    if (src.remote) throw new Error(`node "${node.name}": table "${table}" is remote; remote tables are not sharded`);
    return {
      name: table,
      input: ids,
      mode,
      width: ctx.idSlot(ids).width,
      prepare: (rows: number) => src.prepare(rows),
      get ids() {
        return src.ids;
      },
      offsets: src.offsets,
      checked: ctx.graph.inputs.some((input) => input.name === ids),
      out: ctx.slot(node.outputs[i]!),
    };
  });
  const first = ctx.slot(node.outputs[0]!);
  const lookup = new ShardedLookup(node.name, ctx.embeddingSharding!, tables, ctx.capacity);
  return { node: node.name, op: node.op, run: (s) => lookup.run(rowsOf(first, s)), dispose: () => lookup.dispose() };
};

/** The pooled lookups' steps over sharded tables (plan.ts uses them when the model shards its embeddings). */
export const shardedEmbeddingSteps: Record<string, StepBuilder> = { embedding_bag: shardedBags, embedding_bags: shardedBags };
