// Multi-head attention from the general graph, as torch.onnx (1.13, opsets 14
// and 17) exports nn.MultiheadAttention and nn.TransformerEncoderLayer:
//   Q = layout(q) [H, Lq, d], Kᵀ = layout(k) [H, d, Lk], V = layout(v) [H, Lk, dv]
//   P = softmax_axis(-1)(scale · batch_matmul(Q, Kᵀ) (+ mask weight))
//   out = layout(batch_matmul(P, V)) [Lq, H·dv]
// -> attention{heads, scale, mask}(q, k, v): one rf_seq_attention call instead
// of two batched GEMMs, a softmax and five copies. `layout` is any chain of
// reshape / transpose / slice_nd; each chain is checked by running it on the
// index of every element, so a match means the same elements, whatever
// steps the exporter took (a column slice of a fused QKV projection is read in
// place). Scalar mul/div anywhere on the Q, Kᵀ or score side fold into scale.
// The mask must be a constant the kernel can express (all zeros, or causal:
// 0 where visible, -inf or <= -1e9 elsewhere) or a key padding mask (a bool
// flag per key, through where(flag, -inf, 0)); any other mask or any other
// difference leaves the graph as it is.
import type { Node } from "../graph/schema";
import { broadcastShapes, broadcastStrides, count, weightRowShape } from "../graph/tensor-shapes";
import { type ChainCtx as Ctx, chainOperands, maskLayoutOps, rewriteChains, peelScale, rowAxis, scalarWeight, shapeOf, traceBack } from "./attention-chains";
import { type Pass, cloneGraph, tallyKinds } from "./pass";

/** An additive mask entry at or below this hides its key (exp underflows to exactly 0 in fp32 for any sane score). */
const HIDDEN = -1e9;

/**
 * The kernel mask an additive constant mask [.., Lq, Lk] is, or undefined when it is neither none nor causal.
 * `after`: the scale applied to the masked scores (scalars between the add and the softmax scale the mask too).
 */
function maskOf(ctx: Ctx, name: string, heads: number, lq: number, lk: number, after: number): "none" | "causal" | undefined {
  const spec = ctx.graph.weights[name]!;
  if (spec.dtype !== "f32") return undefined;
  const row = weightRowShape(spec, 4);
  const out = [heads, lq, lk];
  if (!row || row.length > 3 || broadcastShapes([row, out])?.join() !== out.join()) return undefined;
  const s = broadcastStrides(row, out);
  const m = ctx.weights.get(name)!.data as Float32Array;
  let none = true;
  let causal = true;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < lq; i++) {
      for (let j = 0; j < lk; j++) {
        const v = m[h * s[0]! + i * s[1]! + j * s[2]!]! * after;
        none &&= v === 0;
        causal &&= j <= i + lk - lq ? v === 0 : v <= HIDDEN;
      }
    }
  }
  return none ? "none" : causal && lq <= lk ? "causal" : undefined;
}

/**
 * The bool [Lk] value a key padding mask comes from (true = hidden), as torch exports
 * key_padding_mask: scalar · where(expand(padding), -inf, 0) added to the scores [H, Lq, Lk].
 */
function keyPaddingOf(ctx: Ctx, value: string, heads: number, lq: number, lk: number, after: number): string | undefined {
  const scores = [heads, lq, lk].join();
  const shape = shapeOf(ctx, value);
  if (shape.length > 3 || broadcastShapes([shape, [heads, lq, lk]])?.join() !== scores) return undefined;
  const { value: selected, scale } = peelScale(ctx, value);
  const where = ctx.byValue.get(selected);
  if (where?.op !== "where" || !(scale * after > 0)) return undefined;
  const [cond, hide, keep] = where.inputs as [string, string, string];
  const hidden = scalarWeight(ctx, hide);
  const zeros = ctx.graph.weights[keep]?.dtype === "f32" && (ctx.weights.get(keep)!.data as Float32Array).every((x) => x === 0);
  if (hidden === undefined || !(hidden * scale * after <= HIDDEN) || !zeros || ctx.graph.weights[cond]) return undefined;
  // Every element of the condition must be flag j of one bool row of Lk flags.
  const traced = traceBack(ctx, cond, maskLayoutOps);
  const condShape = shapeOf(ctx, cond);
  if (!traced || ctx.info.values.get(traced.base)!.dtype !== "bool" || count(shapeOf(ctx, traced.base)) !== lk || condShape.at(-1) !== lk) return undefined;
  return traced.idx.every((o, t) => o === t % lk) ? traced.base : undefined;
}

/** The attention a softmax node sits in, as the nodes that replace the producer of its output; undefined when any piece differs. */
function match(ctx: Ctx, softmax: Node, pv: Node): { replaces: Node; nodes: Node[]; summary: string } | undefined {
  const sa = ctx.info.attrs.get(softmax.name)!;
  const scores = shapeOf(ctx, softmax.inputs[0]!);
  if (sa.log || scores.length !== 3 || rowAxis(sa.axis as number, 3) !== 2) return undefined;
  const [heads, lq, lk] = scores as [number, number, number];
  if (lq < 1 || lk < 1) return undefined;
  // The score side: scalars, then an optional constant mask, then scalars, back to Q·Kᵀ.
  let { value, scale } = peelScale(ctx, softmax.inputs[0]!);
  let mask: "none" | "causal" = "none";
  let padding: string | undefined;
  const add = ctx.byValue.get(value);
  if (add?.op === "binary" && ctx.info.attrs.get(add.name)!.op === "add") {
    const w = add.inputs.find((i) => ctx.graph.weights[i]);
    let x = add.inputs.find((i) => !ctx.graph.weights[i]);
    if (!x || add.inputs.length !== 2) return undefined;
    if (w) {
      const m = maskOf(ctx, w, heads, lq, lk, scale);
      if (!m) return undefined;
      mask = m;
    } else {
      // Two activations: one is the scores, the other a key padding mask.
      const [a, b] = add.inputs as [string, string];
      padding = keyPaddingOf(ctx, b, heads, lq, lk, scale);
      x = a;
      if (!padding) {
        padding = keyPaddingOf(ctx, a, heads, lq, lk, scale);
        x = b;
      }
      if (!padding) return undefined;
    }
    const inner = peelScale(ctx, x);
    value = inner.value;
    scale *= inner.scale;
  }
  const qk = ctx.byValue.get(value);
  if (qk?.op !== "batch_matmul" || pv.inputs[0] !== softmax.outputs[0]) return undefined;
  const [qs, ks] = qk.inputs.map((i) => peelScale(ctx, i)) as [{ value: string; scale: number }, { value: string; scale: number }];
  const [qShape, kShape, vShape] = [qk.inputs[0]!, qk.inputs[1]!, pv.inputs[1]!].map((v) => (ctx.graph.weights[v] ? [] : shapeOf(ctx, v)));
  if (qShape!.length !== 3 || kShape!.length !== 3 || vShape!.length !== 3) return undefined;
  const d = qShape![2]!;
  const dv = vShape![2]!;
  if (qShape!.join() !== [heads, lq, d].join() || kShape!.join() !== [heads, d, lk].join() || vShape!.join() !== [heads, lk, dv].join()) return undefined;
  const operands = chainOperands(ctx, { q: qs.value, k: ks.value, v: pv.inputs[1]!, out: pv.outputs[0]!, ...(padding ? { also: padding } : {}) }, { heads, lq, lk, d, dv });
  if (!operands) return undefined;
  const { q, k, v, out } = operands;
  scale *= qs.scale * ks.scale;
  if (!Number.isFinite(scale)) return undefined;
  const name = `${softmax.name}:attention`;
  const nodes: Node[] = [];
  /** The operand as [L, ld] rows (a free reshape when its value has another shape). */
  const tokens = (t: { base: string; ld: number }, length: number, tag: string) => {
    if (shapeOf(ctx, t.base).join() === [length, t.ld].join()) return t.base;
    nodes.push({ name: `${name}:${tag}`, op: "reshape", inputs: [t.base], outputs: [`${name}:${tag}`], attrs: { shape: [length, t.ld] } });
    return `${name}:${tag}`;
  };
  const inputs = [tokens(q, lq, "q"), tokens(k, lk, "k"), tokens(v, lk, "v")];
  if (padding) {
    if (shapeOf(ctx, padding).length === 1) inputs.push(padding);
    else {
      nodes.push({ name: `${name}:padding`, op: "reshape", inputs: [padding], outputs: [`${name}:padding`], attrs: { shape: [lk] } });
      inputs.push(`${name}:padding`);
    }
  }
  const flat = shapeOf(ctx, out).join() === [lq, heads * dv].join();
  const result = flat ? out : `${name}:out`;
  nodes.push({ name, op: "attention", inputs, outputs: [result], attrs: { heads, headDim: d, valueDim: dv, qStart: q.start, kStart: k.start, vStart: v.start, scale, mask } });
  if (!flat) nodes.push({ name: `${name}:view`, op: "reshape", inputs: [result], outputs: [out], attrs: { shape: shapeOf(ctx, out) } });
  return { replaces: ctx.byValue.get(out)!, nodes, summary: `heads=${heads}, L=${lq}${lk === lq ? "" : `x${lk}`}, d=${d}, mask ${padding ? "key padding" : mask}` };
}

export const fuseAttention: Pass = {
  name: "fuse-attention",
  run(model) {
    const graph = cloneGraph(model.graph);
    // Anchored at each softmax (tried once), with the batch_matmul that reads it.
    const fused = rewriteChains(graph, model.weights, "softmax_axis", (ctx, softmax) => {
      const pv = graph.nodes.find((n) => n.op === "batch_matmul" && n.inputs[0] === softmax.outputs[0]);
      return pv && match(ctx, softmax, pv);
    });
    const kinds = tallyKinds(fused);
    return { model: { graph, weights: model.weights }, summary: `fuse-attention: ${fused.length} multi-head attention -> attention${kinds.length ? ` (${kinds.join("; ")})` : ""}` };
  },
};
