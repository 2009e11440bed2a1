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
  /**
   * History inputs: a variable-length sequence of events, oldest first, stored in the [maxLength]
   * slots of shape (left-padded with `padding`). A ranking request may send [n] or [1, n] for any
   * n >= 0; beyond maxLength only the most recent events are kept (keep "last") and the response
   * says so. Inputs of one `group` (e.g. items, actions, timestamps of one history) have equal lengths.
   */
  sequence: z.object({ maxLength: z.number().int().positive(), keep: z.literal("last"), group: z.string().min(1).optional() }).optional(),
});
export type GraphInput = z.infer<typeof inputSchema>;

export const weightSchema = z.object({
  dtype: z.enum(["f32", "f16", "bf16", "i8", "u8q", "u4q", "i32", "i64", "bool"]),
  shape: z.array(z.number().int().nonnegative()).min(1).max(8),
  /** int8 GEMM weights: name of the f32 [n] per-output-channel scale weight. */
  scales: z.string().optional(),
  /** int8 GEMM weights: activation group bounds [0, …, k] (rf_weight_set_act_groups; compiler/activation-groups.ts). */
  actGroups: z.array(z.number().int().nonnegative()).optional(),
  /** int8 GEMM weights: the fewest bits X is quantized to per row (rf_weight_set_act_bits; default 8). */
  actBits: z.union([z.literal(8), z.literal(16)]).optional(),
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
  for (const input of result.data.inputs) checkSequenceInput(input);
  return result.data;
}

/** A sequence input is a context id input of one axis of maxLength slots with a padding id. */
function checkSequenceInput(input: GraphInput): void {
  const seq = input.sequence;
  if (!seq) return;
  const why =
    input.role !== "context" ? "must be a context input (one history per request)"
    : input.dtype !== "i32" && input.dtype !== "i64" ? `must be an id input (i32 or i64), not ${input.dtype}`
    : input.padding === undefined ? "needs a padding id (the empty, oldest slots)"
    : input.shape.length !== 1 || input.shape[0] !== seq.maxLength ? `shape [${input.shape.join(", ")}] must be [maxLength] = [${seq.maxLength}]`
    : undefined;
  if (why) throw new GraphError(`invalid graph: input "${input.name}" is a sequence and ${why}`);
}

/** The graph is malformed, or an op's inputs do not fit together. */
export class GraphError extends RankfnError {
  override readonly name = "GraphError";
  constructor(message: string) {
    super(message, "invalid_graph", 400);
  }
}
