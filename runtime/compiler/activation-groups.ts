// Activation groups of int8 GEMM weights (rankfn.h, rf_weight_set_act_groups):
// the u8 kernels quantize each row of X over one range, and a concatenated
// input mixes ranges — a bottom-MLP output in the units next to pooled
// embeddings in hundredths — so the small segments lose their resolution. The
// graph knows the segments (the concat's inputs; eliminate-concat writes each
// into its slice, so they stay visible here), and a DCN cross layer keeps its x0
// columns (x_{l+1} = x0 ⊙ t + x_l), so linears and cross layers fed by either
// get one activation group per segment. Runs of narrow segments (< 32 columns,
// e.g. 16-wide embeddings) from one kind of op share one group: a group costs a
// rescale per tile, and neighbouring embedding blocks have like ranges.
// `maxGroup` further splits long groups (group-wise scales over long K). Bounds
// are column offsets, inner ones rounded down to the int8 k-quad (4).
import type { Graph } from "../graph/schema";
import { inferGraph } from "../graph/infer";
import { producers } from "./pass";

/** Below this width a segment joins its narrow neighbours in one group. */
const NARROW = 32;

/** One segment of a concatenated value: its width and what produced it (narrow runs merge only within one kind). */
export interface Segment {
  width: number;
  kind: string;
}

type Producers = ReturnType<typeof producers>;

/** The segments of `value` (undefined when it is not a concatenation or a cross layer over one). */
function segmentsOf(value: string, widthOf: (v: string) => number, byValue: Producers, memo: Map<string, Segment[] | undefined>): Segment[] | undefined {
  if (memo.has(value)) return memo.get(value);
  const node = byValue.get(value);
  let out: Segment[] | undefined;
  if (node?.op === "concat") {
    out = node.inputs.flatMap((i) => {
      const from = byValue.get(i);
      // Broadcast context values keep the kind of what they broadcast (a context embedding is an embedding).
      const kind = from?.op === "broadcast" ? (byValue.get(from.inputs[0]!)?.op ?? "input") : (from?.op ?? "input");
      return segmentsOf(i, widthOf, byValue, memo) ?? [{ width: widthOf(i), kind }];
    });
  } else if (node?.op === "cross") out = segmentsOf(node.inputs[0]!, widthOf, byValue, memo);
  memo.set(value, out);
  return out;
}

/** Group bounds [0, …, k] over segments: narrow runs of one kind merged, long groups split at `maxGroup`, inner bounds on multiples of 4. */
export function groupBounds(segments: Segment[], maxGroup = Infinity): number[] {
  const k = segments.reduce((a, s) => a + s.width, 0);
  const starts: number[] = [];
  let at = 0;
  let prev: Segment | undefined;
  for (const seg of segments) {
    const joins = prev !== undefined && seg.width < NARROW && prev.width < NARROW && prev.kind === seg.kind;
    if (!joins) starts.push(at);
    prev = seg;
    at += seg.width;
  }
  const split: number[] = [];
  starts.forEach((s, i) => {
    const end = starts[i + 1] ?? k;
    for (let b = s; b < end; b += maxGroup) split.push(b);
  });
  const bounds = [...new Set(split.map((b) => b - (b % 4)))].filter((b) => b > 0 && b < k);
  return [0, ...bounds, k];
}

/** For each int8-quantizable GEMM weight whose input has segments: its group bounds (only weights with ≥ 2 groups). */
export function activationGroups(graph: Graph, maxGroup = Infinity): Map<string, number[]> {
  const info = inferGraph(graph);
  const byValue = producers(graph);
  const memo = new Map<string, Segment[] | undefined>();
  const widthOf = (v: string) => info.values.get(v)!.shape.reduce((a, b) => a * b, 1);
  const out = new Map<string, number[]>();
  const add = (weight: string, input: string) => {
    const k = graph.weights[weight]?.shape[1];
    if (k === undefined) return;
    const segments = segmentsOf(input, widthOf, byValue, memo) ?? (Number.isFinite(maxGroup) ? [{ width: k, kind: "row" }] : undefined);
    if (!segments || segments.reduce((a, s) => a + s.width, 0) !== k) return;
    const bounds = groupBounds(segments, maxGroup);
    if (bounds.length > 2) out.set(weight, bounds);
  };
  for (const node of graph.nodes) {
    if (node.op === "linear" && !(Array.isArray(node.attrs.slots) && node.attrs.slots.length > 0)) add(node.inputs[1]!, node.inputs[0]!);
    // cross inputs: x0, x_l, then W (or V, U): V (and full-rank W) read x_l; U reads V·x_l (no segments).
    else if (node.op === "cross") add(node.inputs[2]!, node.inputs[1]!);
  }
  return out;
}
