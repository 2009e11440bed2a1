// HSTU's pointwise attention from the general graph, as torch.onnx (1.13, opsets
// 14 and 17) exports a generative-recommenders style layer:
//   S = scale · batch_matmul(Q, Kᵀ) (+ constant bias)      Q, Kᵀ, V: layouts of the uvqk split
//   P = SiLU(S) · c · mask (· flags)                       SiLU as x·sigmoid(x) or silu; c = 1/n
//   out = layout(batch_matmul(P, V)) [Lq, H·dv]
// -> pointwise_attention{heads, scale, mask, normLen}(q, k, v[, rab][, visible]):
// one rf_hstu_attention call instead of two batched GEMMs and five elementwise
// ops over [H, L, L]. The operands are traced as fuse-attention traces them
// (attention-chains.ts). P is read as a product: its factors are the one SiLU,
// constants (scalars, 1/n, a causal 0/1 mask: their product must be c where the
// kernel's none or causal mask sees a key and 0 elsewhere, with c = 1/n for an
// integer n) and at most one runtime flag per key (cast(bool [Lk]) broadcast
// over heads and queries: the key padding mask from the ids). The bias must be
// rankfn.h's rab table in disguise: every visible entry equal to
// table[h][log bucket of |i − j|], read back from the constant itself. Any
// other form (a free [H, L, L] bias, a mask of another shape, softmax) leaves
// the graph as it is.
import type { Node } from "../graph/schema";
import { broadcastShapes, broadcastStrides, count, weightRowShape } from "../graph/tensor-shapes";
import { type Tensor, tensor } from "../tensor/tensor";
import { type ChainCtx, chainOperands, maskLayoutOps, rewriteChains, peelScale, shapeOf, traceBack } from "./attention-chains";
import { type Pass, cloneGraph, tallyKinds } from "./pass";

/** Score tensors larger than this many elements per row are not matched (compile time stays small). */
const MAX_SCORES = 1 << 22;

const binaryOp = (ctx: ChainCtx, node: Node | undefined): string | undefined =>
  !node ? undefined : node.op === "binary" || node.op === "unary" ? (ctx.info.attrs.get(node.name)!.op as string) : node.op;

/** x when `value` is SiLU(x): silu, unary{silu}, or x · sigmoid(x) (either order). */
function siluInput(ctx: ChainCtx, value: string): string | undefined {
  const p = ctx.byValue.get(value);
  const op = binaryOp(ctx, p);
  if (op === "silu" && p!.inputs.length === 1) return p!.inputs[0];
  if (op !== "mul" || p!.inputs.length !== 2) return undefined;
  const [a, b] = p!.inputs as [string, string];
  const sigmoidOf = (s: string, x: string) => {
    const n = ctx.byValue.get(s);
    return binaryOp(ctx, n) === "sigmoid" && n!.inputs[0] === x && shapeOf(ctx, s).join() === shapeOf(ctx, x).join();
  };
  return sigmoidOf(b, a) ? a : sigmoidOf(a, b) ? b : undefined;
}

/** Weight input `w` of elementwise `node`, broadcast to the scores [H, Lq, Lk]; undefined if it is no f32 constant or does not broadcast. */
function weightOver(ctx: ChainCtx, node: Node, w: string, out: number[]): Float32Array | undefined {
  const spec = ctx.graph.weights[w];
  if (!spec || spec.dtype !== "f32") return undefined;
  const own = shapeOf(ctx, node.outputs[0]!);
  // The row-wise ops take a weight of the row's size (elementwise); the general binary ones broadcast it.
  const shape = node.op === "binary" ? weightRowShape(spec, own.length + 1) : count(spec.shape) === count(own) ? own : undefined;
  if (!shape || broadcastShapes([shape, own])?.join() !== own.join() || broadcastShapes([own, out])?.join() !== out.join()) return undefined;
  const strides = broadcastStrides(shape, out);
  const data = ctx.weights.get(w)!.data as Float32Array;
  const res = new Float32Array(count(out));
  const [H, lq, lk] = out as [number, number, number];
  for (let h = 0, t = 0; h < H; h++) for (let i = 0; i < lq; i++) for (let j = 0; j < lk; j++) res[t++] = data[h * strides[0]! + i * strides[1]! + j * strides[2]!]!;
  return res;
}

/** The bool [Lk] value whose flag j every element (h, i, j) of `value` is, through cast(bool -> f32) and layouts; undefined otherwise. */
function flagsOf(ctx: ChainCtx, value: string, out: number[]): string | undefined {
  const own = shapeOf(ctx, value);
  if (own.length > 3 || broadcastShapes([own, out])?.join() !== out.join()) return undefined;
  const outer = traceBack(ctx, value, maskLayoutOps);
  const cast = outer && ctx.byValue.get(outer.base);
  if (!outer || cast?.op !== "cast" || ctx.info.attrs.get(cast.name)!.to !== "f32" || ctx.info.values.get(cast.inputs[0]!)?.dtype !== "bool") return undefined;
  const inner = traceBack(ctx, cast.inputs[0]!, maskLayoutOps);
  const [H, lq, lk] = out as [number, number, number];
  if (!inner || ctx.info.values.get(inner.base)!.dtype !== "bool" || count(shapeOf(ctx, inner.base)) !== lk) return undefined;
  const s = broadcastStrides(own, out);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < lq; i++) {
      for (let j = 0; j < lk; j++) if (inner.idx[outer.idx[h * s[0]! + i * s[1]! + j * s[2]!]!] !== j) return undefined;
    }
  }
  return inner.base;
}

interface Product {
  silu?: string;
  constant: Float32Array;
  flags?: string;
}

/** Read `value` as a product of factors into `acc`; false when a factor is none of SiLU, a constant, or key flags. */
function collect(ctx: ChainCtx, value: string, out: number[], acc: Product): boolean {
  const x = siluInput(ctx, value);
  if (x !== undefined && shapeOf(ctx, value).join() === out.join()) {
    if (acc.silu) return false;
    acc.silu = x;
    return true;
  }
  const p = ctx.byValue.get(value);
  const op = binaryOp(ctx, p);
  const times = (w: string, inverse: boolean) => {
    const c = weightOver(ctx, p!, w, out);
    if (!c) return false;
    for (let t = 0; t < c.length; t++) acc.constant[t] = inverse ? acc.constant[t]! / c[t]! : acc.constant[t]! * c[t]!;
    return true;
  };
  if ((op === "mul" || op === "div") && p!.inputs.length === 2 && (p!.op === "binary" || p!.op === op)) {
    const [a, b] = p!.inputs as [string, string];
    if (ctx.graph.weights[a] && op === "div") return false;
    const left = ctx.graph.weights[a] ? times(a, false) : collect(ctx, a, out, acc);
    return left && (ctx.graph.weights[b] ? times(b, op === "div") : op === "mul" && collect(ctx, b, out, acc));
  }
  const flags = flagsOf(ctx, value, out);
  if (!flags || (acc.flags && acc.flags !== flags)) return false;
  acc.flags = flags;
  return true;
}

/** rankfn.h's log bucket of a distance: its bit width (0 -> 0, 1 -> 1, 2..3 -> 2, ...). */
const bitWidth = (delta: number) => (delta === 0 ? 0 : 32 - Math.clz32(delta));

/**
 * The rab table [H, buckets] a constant bias [H, Lq, Lk] is (entry (h, i, j) = table[h][bucket(|i + Lk − Lq − j|)]
 * wherever the mask lets query i see key j), the top buckets merged while equal (a clamped table);
 * null for an all-zero bias, undefined when the bias is no such table.
 */
function rabTable(bias: Float32Array, out: number[], visible: (i: number, j: number) => boolean): { table: Float32Array; buckets: number } | null | undefined {
  const [H, lq, lk] = out as [number, number, number];
  if (bias.every((b) => b === 0)) return null;
  const buckets = bitWidth(Math.max(lk - 1, lk - lq)) + 1;
  const table = new Float32Array(H * buckets);
  const seen = new Uint8Array(H * buckets);
  for (let h = 0, t = 0; h < H; h++) {
    for (let i = 0; i < lq; i++) {
      for (let j = 0; j < lk; j++, t++) {
        if (!visible(i, j)) continue;
        const at = h * buckets + bitWidth(Math.abs(i + lk - lq - j));
        if (!seen[at]) [seen[at], table[at]] = [1, bias[t]!];
        else if (table[at] !== bias[t]) return undefined;
      }
    }
  }
  let kept = buckets;
  const same = (b: number) => Array.from({ length: H }, (_, h) => h).every((h) => !seen[h * buckets + b] || table[h * buckets + b] === table[h * buckets + b - 1]);
  while (kept > 1 && same(kept - 1)) kept--;
  const trimmed = new Float32Array(H * kept);
  for (let h = 0; h < H; h++) trimmed.set(table.subarray(h * buckets, h * buckets + kept), h * kept);
  return { table: trimmed, buckets: kept };
}

/** The pointwise attention `pv` (batch_matmul(P, V)) closes, as the nodes replacing its output's producer; undefined when any piece differs. */
function match(ctx: ChainCtx, pv: Node): { replaces: Node; nodes: Node[]; rab?: [string, Tensor]; summary: string } | undefined {
  const [pName, vName] = pv.inputs as [string, string];
  if (ctx.graph.weights[pName] || ctx.graph.weights[vName]) return undefined;
  const out = shapeOf(ctx, pName);
  if (out.length !== 3 || count(out) > MAX_SCORES) return undefined;
  const [heads, lq, lk] = out as [number, number, number];
  const acc: Product = { constant: new Float32Array(count(out)).fill(1) };
  if (!collect(ctx, pName, out, acc) || !acc.silu) return undefined;
  // The constant factors: c wherever the kernel's mask sees a key, 0 elsewhere.
  const c = acc.constant[0]!;
  const causalSees = (i: number, j: number) => j <= i + lk - lq;
  let none = true;
  let causal = lq <= lk;
  for (let h = 0, t = 0; h < heads; h++) {
    for (let i = 0; i < lq; i++) {
      for (let j = 0; j < lk; j++, t++) {
        none &&= acc.constant[t] === c;
        causal &&= causalSees(i, j) ? acc.constant[t] === c : acc.constant[t] === 0;
      }
    }
  }
  const normLen = Math.round(1 / c);
  if (!(none || causal) || !(c > 0) || normLen < 1 || Math.abs(normLen * c - 1) > 1e-6) return undefined;
  const mask = none ? "none" : "causal";
  if (acc.flags && mask === "causal" && lq !== lk) return undefined;
  // The score side: scalars, then an optional constant bias, then scalars, back to Q·Kᵀ.
  let { value, scale } = peelScale(ctx, acc.silu);
  let rab: { table: Float32Array; buckets: number } | null = null;
  const add = ctx.byValue.get(value);
  if (binaryOp(ctx, add) === "add" && add!.inputs.length === 2 && (add!.op === "add" || add!.op === "binary")) {
    const w = add!.inputs.find((i) => ctx.graph.weights[i]);
    const x = add!.inputs.find((i) => !ctx.graph.weights[i]);
    const bias = w && x && shapeOf(ctx, x).join() === out.join() ? weightOver(ctx, add!, w, out) : undefined;
    if (!bias) return undefined;
    const table = rabTable(bias.map((b) => b * scale), out, mask === "none" ? () => true : causalSees);
    if (table === undefined) return undefined;
    rab = table;
    const inner = peelScale(ctx, x!);
    value = inner.value;
    scale *= inner.scale;
  }
  const qk = ctx.byValue.get(value);
  if (qk?.op !== "batch_matmul" || shapeOf(ctx, value).join() !== out.join()) return undefined;
  const [qs, ks] = qk.inputs.map((i) => peelScale(ctx, i)) as [{ value: string; scale: number }, { value: string; scale: number }];
  const [qShape, kShape, vShape] = [qk.inputs[0]!, qk.inputs[1]!, vName].map((v) => (ctx.graph.weights[v] ? [] : shapeOf(ctx, v)));
  if (qShape!.length !== 3 || kShape!.length !== 3 || vShape!.length !== 3) return undefined;
  const d = qShape![2]!;
  const dv = vShape![2]!;
  if (qShape!.join() !== [heads, lq, d].join() || kShape!.join() !== [heads, d, lk].join() || vShape!.join() !== [heads, lk, dv].join()) return undefined;
  const operands = chainOperands(ctx, { q: qs.value, k: ks.value, v: vName, out: pv.outputs[0]!, ...(acc.flags ? { also: acc.flags } : {}) }, { heads, lq, lk, d, dv });
  if (!operands) return undefined;
  const { q, k, v, out: result } = operands;
  scale *= qs.scale * ks.scale;
  if (!Number.isFinite(scale)) return undefined;
  const name = `${pv.name}:pointwise_attention`;
  const nodes: Node[] = [];
  /** A free reshape of `base` to `shape` unless it has it already. */
  const viewed = (base: string, shape: number[], tag: string) => {
    if (shapeOf(ctx, base).join() === shape.join()) return base;
    nodes.push({ name: `${name}:${tag}`, op: "reshape", inputs: [base], outputs: [`${name}:${tag}`], attrs: { shape } });
    return `${name}:${tag}`;
  };
  const inputs = [viewed(q.base, [lq, q.ld], "q"), viewed(k.base, [lk, k.ld], "k"), viewed(v.base, [lk, v.ld], "v")];
  const rabName = `${name}:rab`;
  if (rab) inputs.push(rabName);
  if (acc.flags) inputs.push(viewed(acc.flags, [lk], "visible"));
  const flat = shapeOf(ctx, result).join() === [lq, heads * dv].join();
  const produced = flat ? result : `${name}:out`;
  nodes.push({ name, op: "pointwise_attention", inputs, outputs: [produced], attrs: { heads, headDim: d, valueDim: dv, qStart: q.start, kStart: k.start, vStart: v.start, scale, mask, normLen } });
  if (!flat) nodes.push({ name: `${name}:view`, op: "reshape", inputs: [produced], outputs: [result], attrs: { shape: shapeOf(ctx, result) } });
  return {
    replaces: ctx.byValue.get(result)!,
    nodes,
    rab: rab ? [rabName, tensor("f32", [heads, rab.buckets], rab.table)] : undefined,
    summary: `heads=${heads}, L=${lq}${lk === lq ? "" : `x${lk}`}, d=${d}, mask ${mask}${acc.flags ? ", key padding" : ""}, ${rab ? `rab ${rab.buckets} buckets` : "no rab"}, n=${normLen}`,
  };
}

export const fuseHstuAttention: Pass = {
  name: "fuse-hstu-attention",
  run(model) {
    const graph = cloneGraph(model.graph);
    const weights = new Map(model.weights);
    const fused = rewriteChains(graph, weights, "batch_matmul", match, (m) => {
      if (!m.rab) return;
      graph.weights[m.rab[0]] = { dtype: "f32", shape: m.rab[1].shape };
      weights.set(...m.rab);
    });
    const kinds = tallyKinds(fused);
    return {
      model: { graph, weights },
      summary: `fuse-hstu-attention: ${fused.length} pointwise attention -> pointwise_attention${kinds.length ? ` (${kinds.join("; ")})` : ""}`,
    };
  },
};
