// Pieces the attention fusions share (fuse-attention.ts: softmax attention;
// fuse-hstu-attention.ts: HSTU's pointwise attention): reading a Q, Kᵀ or V
// operand back through any chain of reshape / transpose / slice_nd by running
// the chain on the index of every element (a match means the same elements,
// whatever steps the exporter took), the output's way back to [L, H·dv], and
// scalar factors folded into the kernel's scale.
import { type GraphInfo, inferGraph } from "../graph/infer";
import type { Graph, Node } from "../graph/schema";
import { broadcastShapes, count } from "../graph/tensor-shapes";
import type { Tensor } from "../tensor/tensor";
import { producers, useCounts } from "./pass";

/** Chains longer than this many elements per row are not traced (compile time stays small). */
const MAX_TRACED = 1 << 22;

export interface ChainCtx {
  graph: Graph;
  info: GraphInfo;
  weights: Map<string, Tensor>;
  byValue: Map<string, Node>;
  uses: Map<string, number>;
}

export const rowAxis = (axis: number, rowRank: number) => (axis < 0 ? axis + rowRank + 1 : axis) - 1;
export const shapeOf = (ctx: ChainCtx, v: string) => ctx.info.values.get(v)!.shape;

export const layoutOps = new Set(["reshape", "transpose", "slice_nd"]);
/** A key padding mask also reaches the scores through an expand over heads. */
export const maskLayoutOps = new Set([...layoutOps, "expand"]);

/** Per element of a layout chain's current value: its offset in a row of the value the chain starts from. */
export interface Traced {
  idx: Int32Array;
  shape: number[];
}

export const iota = (n: number, shape: number[]): Traced => ({ idx: Int32Array.from({ length: n }, (_, i) => i), shape });

/** Apply one layout node to (index map, shape); undefined if it is not a layout op. */
export function applyLayout(ctx: ChainCtx, node: Node, idx: Int32Array, shape: number[]): Traced | undefined {
  const a = ctx.info.attrs.get(node.name)!;
  if (node.op === "reshape") return { idx, shape: a.shape as number[] };
  const strides = shape.map((_, i) => count(shape.slice(i + 1)));
  const gather = (out: number[], source: (at: number[]) => number): Traced => {
    const res = new Int32Array(count(out));
    const at = new Array<number>(out.length).fill(0);
    for (let t = 0; t < res.length; t++) {
      res[t] = idx[source(at)]!;
      for (let r = out.length - 1; r >= 0 && ++at[r]! === out[r]; r--) at[r] = 0;
    }
    return { idx: res, shape: out };
  };
  if (node.op === "transpose") {
    const perm = (a.perm as number[]).slice(1).map((p) => p - 1);
    return gather(perm.map((p) => shape[p]!), (at) => at.reduce((s, x, r) => s + x * strides[perm[r]!]!, 0));
  }
  if (node.op === "expand") {
    const out = broadcastShapes([shape, a.shape as number[]])!;
    const lead = out.length - shape.length;
    return gather(out, (at) => at.reduce((s, x, r) => (r < lead || shape[r - lead] === 1 ? s : s + x * strides[r - lead]!), 0));
  }
  if (node.op === "slice_nd") {
    const axes = (a.axes as number[]).map((x) => rowAxis(x, shape.length));
    const out = [...shape];
    axes.forEach((r, i) => (out[r] = (a.counts as number[])[i]!));
    const start = shape.map((_, r) => (axes.includes(r) ? (a.starts as number[])[axes.indexOf(r)]! : 0));
    const step = shape.map((_, r) => (axes.includes(r) ? (a.steps as number[])[axes.indexOf(r)]! : 1));
    return gather(out, (at) => at.reduce((s, x, r) => s + (start[r]! + x * step[r]!) * strides[r]!, 0));
  }
  return undefined;
}

/** Walk back from `value` through layout nodes: the value they start from and, per element of `value`, its offset in a row of it. */
export function traceBack(ctx: ChainCtx, value: string, ops = layoutOps): { base: string; idx: Int32Array } | undefined {
  const chain: Node[] = [];
  let base = value;
  for (let p = ctx.byValue.get(base); p && ops.has(p.op) && !ctx.graph.weights[p.inputs[0]!]; p = ctx.byValue.get(base)) {
    chain.unshift(p);
    base = p.inputs[0]!;
  }
  const width = count(shapeOf(ctx, base));
  if (width > MAX_TRACED) return undefined;
  let cur = iota(width, shapeOf(ctx, base));
  for (const node of chain) cur = applyLayout(ctx, node, cur.idx, cur.shape)!;
  return { base, idx: cur.idx };
}

/** A single-element f32 weight's value. */
export function scalarWeight(ctx: ChainCtx, name: string): number | undefined {
  const spec = ctx.graph.weights[name];
  if (!spec || spec.dtype !== "f32" || count(spec.shape) !== 1) return undefined;
  return (ctx.weights.get(name)!.data as Float32Array)[0];
}

/** The one value of an f32 weight whose elements are all equal (a scalar, or one a fold broadcast); undefined otherwise. */
export function uniformWeight(ctx: ChainCtx, name: string): number | undefined {
  const spec = ctx.graph.weights[name];
  if (!spec || spec.dtype !== "f32") return undefined;
  const d = ctx.weights.get(name)!.data as Float32Array;
  return d.length > 0 && d.every((x) => x === d[0]) ? d[0] : undefined;
}

/**
 * Walk back from `value` through mul/div by scalar weights: the value before them and the product of
 * their factors. The general binary{mul|div} takes a one-element weight (either side of a mul); the
 * row-wise mul/div a uniform weight of the row's size (what folding leaves of a broadcast scalar).
 */
export function peelScale(ctx: ChainCtx, value: string): { value: string; scale: number } {
  let scale = 1;
  for (let p = ctx.byValue.get(value); p; p = ctx.byValue.get(value)) {
    const [x, w] = p.inputs as [string, string];
    if (p.op === "mul" || p.op === "div") {
      const c = uniformWeight(ctx, w);
      if (c === undefined || ctx.graph.weights[x]) break;
      scale = p.op === "mul" ? scale * c : scale / c;
      value = x;
      continue;
    }
    if (p.op !== "binary") break;
    const op = ctx.info.attrs.get(p.name)!.op;
    if (op === "mul" && scalarWeight(ctx, w) !== undefined && !ctx.graph.weights[x]) {
      scale *= scalarWeight(ctx, w)!;
      value = x;
    } else if (op === "mul" && scalarWeight(ctx, x) !== undefined && !ctx.graph.weights[w]) {
      scale *= scalarWeight(ctx, x)!;
      value = w;
    } else if (op === "div" && scalarWeight(ctx, w) !== undefined && !ctx.graph.weights[x]) {
      scale /= scalarWeight(ctx, w)!;
      value = x;
    } else break;
  }
  return { value, scale };
}

/**
 * The tokens of one operand: `value` must hold, for head h, token t and column c (in the order
 * `order` names them), element start + t·ld + h·width + c of each row of `base` read as [L, ld].
 */
export function tokensOf(ctx: ChainCtx, value: string, order: "htc" | "hct", heads: number, length: number, width: number) {
  const traced = traceBack(ctx, value);
  if (!traced) return undefined;
  const { base, idx } = traced;
  const total = count(shapeOf(ctx, base));
  if (total % length !== 0) return undefined;
  const ld = total / length;
  const start = idx[0]!;
  if (start + heads * width > ld) return undefined;
  let t = 0;
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < (order === "htc" ? length : width); a++) {
      for (let b = 0; b < (order === "htc" ? width : length); b++) {
        const [tok, c] = order === "htc" ? [a, b] : [b, a];
        if (idx[t++] !== start + tok * ld + h * width + c) return undefined;
      }
    }
  }
  return { base, start, ld };
}

/** The furthest value down a chain of single-use layout nodes from `value` [H, Lq, dv] that holds it as [Lq, H·dv]. */
export function outputOf(ctx: ChainCtx, value: string, heads: number, length: number, width: number): string | undefined {
  const wanted = (idx: Int32Array) => idx.every((o, t) => o === Math.floor(t / width) % heads * length * width + Math.floor(t / (heads * width)) * width + (t % width));
  const outputs = new Set(Object.values(ctx.graph.outputs));
  let cur = iota(heads * length * width, shapeOf(ctx, value));
  let found = wanted(cur.idx) ? value : undefined;
  for (let v = value; ctx.uses.get(v) === 1 && !outputs.has(v); ) {
    const next = ctx.graph.nodes.find((n) => n.inputs.includes(v));
    if (!next || !layoutOps.has(next.op)) break;
    cur = applyLayout(ctx, next, cur.idx, cur.shape)!;
    v = next.outputs[0]!;
    if (wanted(cur.idx)) found = v;
  }
  return found;
}


/** Where a chain's heads live: `heads` of width d (q, k) and dv (v) over lq queries and lk keys. */
export interface HeadShape {
  heads: number;
  lq: number;
  lk: number;
  d: number;
  dv: number;
}

/**
 * Q, K and V of a traced attention chain as token windows (tokensOf: Q, V head-major [H, L, w], K
 * transposed) of one f32 role — shared with `also` (a padding mask or flags) when given — and the value
 * the chain's [H, Lq, dv] output is read as (outputOf); undefined when any of that differs.
 */
export function chainOperands(ctx: ChainCtx, values: { q: string; k: string; v: string; out: string; also?: string }, s: HeadShape) {
  const q = tokensOf(ctx, values.q, "htc", s.heads, s.lq, s.d);
  const k = tokensOf(ctx, values.k, "hct", s.heads, s.lk, s.d);
  const v = tokensOf(ctx, values.v, "htc", s.heads, s.lk, s.dv);
  if (!q || !k || !v) return undefined;
  const roles = new Set([q.base, k.base, v.base, ...(values.also ? [values.also] : [])].map((b) => ctx.info.values.get(b)!.role));
  const dtypes = new Set([q.base, k.base, v.base].map((b) => ctx.info.values.get(b)!.dtype));
  if (roles.size !== 1 || !dtypes.has("f32") || dtypes.size !== 1) return undefined;
  const out = outputOf(ctx, values.out, s.heads, s.lq, s.dv);
  return out ? { q, k, v, out } : undefined;
}

/** A chain's replacement: the node whose output it takes over, the nodes standing in for it, its report line. */
export interface ChainRewrite {
  replaces: Node;
  nodes: Node[];
  summary: string;
}

/**
 * Rewrite chains one at a time (each rewrite changes producers and uses, and a later chain may read
 * an earlier one's output): a fresh context per round, every `op` node tried once as a chain's
 * anchor; the chain a rewrite replaces stays until dce. `accept` sees each match before it lands.
 * Returns the summaries of the rewrites, in order.
 */
export function rewriteChains<M extends ChainRewrite>(graph: Graph, weights: Map<string, Tensor>, op: string, match: (ctx: ChainCtx, anchor: Node) => M | undefined, accept: (m: M) => void = () => {}): string[] {
  const fused: string[] = [];
  const tried = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    const ctx: ChainCtx = { graph, info: inferGraph(graph), weights, byValue: producers(graph), uses: useCounts(graph) };
    for (const anchor of graph.nodes.filter((n) => n.op === op && !tried.has(n.name))) {
      tried.add(anchor.name);
      const m = match(ctx, anchor);
      if (!m) continue;
      accept(m);
      graph.nodes = graph.nodes.flatMap((n) => (n === m.replaces ? m.nodes : [n]));
      fused.push(m.summary);
      changed = true;
      break;
    }
  }
  inferGraph(graph);
  return fused;
}
