// The graph IR as stored in a model file's `__metadata__` ("rankfn.graph"):
// typed nodes over named values, validated with zod. Activations carry an
// implicit leading batch dimension: shapes here are per row. Weights are
// constants stored beside the graph (full shapes).
import { z } from "zod";
import { RankfnError } from "../errors";

export const roleSchema = z.enum(["context", "candidate"]);
export type Role = z.infer<typeof roleSchema>;

const rowShape = z.array(z.number().int().nonnegative()).max(7);

export const inputSchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(["f32", "i32", "i64", "bool"]),
  /** Per-row shape: [13] for 13 dense features, [L] for up to L ids of a sparse feature. */
  shape: rowShape.min(1),
  /** context: one row per request (user, query, page); candidate: one row per item scored. */
  role: roleSchema,
  /** Sparse inputs: ids equal to this value are empty slots (variable-length bags). */
  padding: z.number().int().optional(),
  /** Dense inputs: what to do with NaN/Inf ("reject" the request, or "zero" them). */
  nonFinite: z.enum(["reject", "zero"]).optional(),
});
export type GraphInput = z.infer<typeof inputSchema>;

export const weightSchema = z.object({
  dtype: z.enum(["f32", "f16", "bf16", "i8", "u8q", "u4q", "i32", "i64", "bool"]),
  shape: z.array(z.number().int().nonnegative()).min(1).max(8),
  /** int8 GEMM weights: name of the f32 [n] per-output-channel scale weight. */
  scales: z.string().optional(),
  /** int8 GEMM weights: activation group bounds [0, …, k] (rf_weight_set_act_groups; compiler/activation-groups.ts). */
  actGroups: z.array(z.number().int().nonnegative()).optional(),
});
export type WeightSpec = z.infer<typeof weightSchema>;

export const nodeSchema = z.object({
  name: z.string().min(1),
  op: z.string().min(1),
  inputs: z.array(z.string().min(1)),
  outputs: z.array(z.string().min(1)).min(1),
  attrs: z.record(z.string(), z.unknown()).default({}),
});
export type Node = z.infer<typeof nodeSchema>;

export const graphSchema = z.object({
  format: z.literal("rankfn.graph/1"),
  name: z.string().min(1),
  inputs: z.array(inputSchema).min(1),
  weights: z.record(z.string(), weightSchema),
  /** Topologically ordered. */
  nodes: z.array(nodeSchema),
  /** Output name (e.g. "ctr") -> value name. */
  outputs: z.record(z.string(), z.string()),
  /**
   * Set by the compiler's concat elimination: a value that is stored as a column
   * slice of another (its producer writes straight into the concatenated buffer).
   */
  aliases: z.record(z.string(), z.object({ of: z.string(), offset: z.number().int().nonnegative() })).optional(),
});
export type Graph = z.infer<typeof graphSchema>;

/** Parse and validate graph JSON; zod issues become one readable message. */
export function parseGraph(json: unknown): Graph {
  const result = graphSchema.safeParse(json);
  if (!result.success) {
    const first = result.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new GraphError(`invalid graph: ${first.join("; ")}`);
  }
  return result.data;
}

/** The graph is malformed, or an op's inputs do not fit together. */
export class GraphError extends RankfnError {
  override readonly name = "GraphError";
  constructor(message: string) {
    super(message, "invalid_graph", 400);
  }
}
