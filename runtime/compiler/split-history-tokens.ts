// The history half of an imported HSTU once per request. A per-row export
// (rows = candidates) builds each row's sequence as concat(history tokens, the
// candidate's token): the history is a context value broadcast to every
// candidate, so every layer recomputes the same history tokens per candidate.
// Under a causal pointwise attention with the candidate last, a history token
// never sees the candidate, so every op from that concat on splits into a
// context half (the history tokens, computed once per request) and a candidate
// half (its one token), for ops that act on each token alone: per-token linear
// (slots), elementwise ops (a weight that varies per token is sliced), split,
// reduce and layer norm along a feature axis, reshapes that keep the tokens
// leading, and slices of one half. pointwise_attention splits into itself over
// the history (context) and pointwise_attention_candidates (the candidate over
// the history's K/V and itself). Any other consumer of a split value reads it
// joined again (broadcast + concat), so the graph computes what it did; nothing
// changes unless an attention splits.
import { inferGraph } from "../graph/infer";
import type { Node } from "../graph/schema";
import { count, weightRowShape } from "../graph/tensor-shapes";
import { tensor } from "../tensor/tensor";
import { type Pass, cloneGraph, producers } from "./pass";

/** A value whose row is concat(flat ctx row, flat cand row): `a` and `b` elements, the token axis leading. */
interface Halves {
  ctx: string;
  cand: string;
  a: number;
  b: number;
}

const unaryOps = new Set(["relu", "gelu", "silu", "sigmoid", "tanh", "unary", "cast"]);
const denseBinary = new Set(["add", "sub", "mul", "div"]);

export const splitHistoryTokens: Pass = {
  name: "split-history",
  run(model) {
    const graph = cloneGraph(model.graph);
    const info = inferGraph(graph);
    const weights = new Map(model.weights);
    const byValue = producers(graph);
    const halves = new Map<string, Halves>();
    const nodes: Node[] = [];
    const joined = new Set<string>();
    let attentions = 0;
    const shapeOf = (v: string) => info.values.get(v)!.shape;
    /** The halves' shapes of value `v` (shape [T, ...rest]), or undefined when the split is not on a token boundary. */
    const halfShapes = (v: string, h: { a: number; b: number }) => {
      const s = shapeOf(v);
      const inner = count(s.slice(1));
      if (s.length === 0 || h.a % inner !== 0 || h.b % inner !== 0 || h.a === 0 || h.b === 0) return undefined;
      return [[h.a / inner, ...s.slice(1)], [h.b / inner, ...s.slice(1)]] as const;
    };
    const view = (v: string, shape: readonly number[], tag: string) => {
      if (shapeOf(v).join() === shape.join()) return v;
      nodes.push({ name: `${v}:${tag}`, op: "reshape", inputs: [v], outputs: [`${v}:${tag}`], attrs: { shape: [...shape] } });
      return `${v}:${tag}`;
    };
    /** Rebuild value `v` from its halves (for a consumer that needs every token). */
    const join = (v: string) => {
      const h = halves.get(v);
      if (!h || joined.has(v)) return;
      joined.add(v);
      const wide = `${v}:history@candidates`;
      nodes.push({ name: `broadcast(${v}:history)`, op: "broadcast", inputs: [h.ctx], outputs: [wide], attrs: {} });
      nodes.push({ name: `${v}:join`, op: "concat_axis", inputs: [wide, h.cand], outputs: [v], attrs: { axis: 1 } });
    };
    /** A per-token weight operand of general binary `node` for half `which`: the weight itself when it is the same for every token, else its rows of that half. */
    const weightHalf = (node: Node, w: string, h: Halves, out: string, which: 0 | 1): string | undefined => {
      const spec = graph.weights[w]!;
      const rank = shapeOf(out).length;
      const row = node.op === "binary" ? weightRowShape(spec, rank + 1) : [count(spec.shape)];
      if (!row) return undefined;
      if (node.op === "binary" && (row.length < rank || row[0] === 1)) return w;
      const shapes = halfShapes(out, h);
      if (!shapes) return undefined;
      // The row-wise ops read a weight of the row's size (flat halves); the general ones a [T, ...] weight (its token rows).
      const rowShape = node.op === "binary" ? [shapes[which][0]!, ...row.slice(1)] : [which === 0 ? h.a : h.b];
      const first = which === 0 ? 0 : node.op === "binary" ? shapes[0][0]! * count(row.slice(1)) : h.a;
      const name = `${w}:${which === 0 ? "history" : "candidate"}@${node.name}`;
      const t = weights.get(w)!;
      graph.weights[name] = { dtype: spec.dtype, shape: rowShape };
      weights.set(name, tensor(spec.dtype, rowShape, t.data.slice(first, first + count(rowShape)) as never));
      return name;
    };
    /** Emit `node` as two nodes over the halves; false when it is not a per-token op over them. */
    const split = (node: Node): boolean => {
      const a = info.attrs.get(node.name)!;
      const hs = node.inputs.map((i) => halves.get(i));
      const h0 = hs[0];
      const out = node.outputs[0]!;
      const emit = (inputsOf: (which: 0 | 1) => string[] | undefined, attrsOf: (which: 0 | 1) => Record<string, unknown> = () => node.attrs, outs = node.outputs, op = node.op) => {
        const ins = [inputsOf(0), inputsOf(1)];
        if (!ins[0] || !ins[1]) return false;
        const sized = outs.map((o) => ({ o, shapes: halfShapes(o, halvesOf(o)) }));
        if (sized.some((x) => !x.shapes)) return false;
        for (const which of [0, 1] as const) {
          nodes.push({ name: `${node.name}:${which === 0 ? "history" : "candidate"}`, op, inputs: ins[which]!, outputs: outs.map((o) => `${o}:${which === 0 ? "history" : "candidate"}`), attrs: { ...attrsOf(which) } });
        }
        for (const o of outs) halves.set(o, { ...halvesOf(o), ctx: `${o}:history`, cand: `${o}:candidate` });
        return true;
      };
      /** Output halves sized like the first split input, scaled by the op's per-token width change. */
      const pending = new Map<string, { a: number; b: number }>();
      const halvesOf = (o: string) => pending.get(o)!;
      const tokensOf = (v: string, h: Halves) => halfShapes(v, h)?.map((s) => s[0]!) as [number, number] | undefined;
      const perToken = (o: string, t: [number, number]) => {
        const inner = count(shapeOf(o).slice(1));
        pending.set(o, { a: t[0] * inner, b: t[1] * inner });
      };
      if (!h0 || hs.some((h, i) => !h && !graph.weights[node.inputs[i]!] && !(node.op === "pointwise_attention" || node.op === "linear"))) return false;
      const t0 = tokensOf(node.inputs[0]!, h0);
      if (!t0 || shapeOf(node.inputs[0]!)[0] !== t0[0] + t0[1]) return false;
      const same = (i: number) => hs[i] && tokensOf(node.inputs[i]!, hs[i]!)?.join() === t0.join();
      if (node.op === "reshape") {
        // A view: the flat halves stay; the tokens are the new leading axis.
        const s = a.shape as number[];
        const t = tokensOf(out, h0);
        if (!t || s[0] !== t[0] + t[1]) return false;
        pending.set(out, { a: h0.a, b: h0.b });
        return emit((w) => [w === 0 ? h0.ctx : h0.cand], (w) => ({ shape: [t[w], ...s.slice(1)] }));
      }
      if (unaryOps.has(node.op)) {
        perToken(out, t0);
        return emit((w) => [w === 0 ? h0.ctx : h0.cand]);
      }
      if (denseBinary.has(node.op) || node.op === "binary") {
        if (node.inputs.length !== 2) return false;
        perToken(out, t0);
        // Row-wise ops pair flat halves of equal size; the general ones operands with the output's tokens leading (broadcast along features).
        const pairs = (i: number, x: string) =>
          node.op === "binary" ? same(i) && shapeOf(x).length === shapeOf(out).length && shapeOf(out)[0] === t0[0] + t0[1] : hs[i]?.a === h0.a && hs[i]?.b === h0.b;
        return emit((w) => {
          const ins: string[] = [];
          for (const [i, x] of node.inputs.entries()) {
            if (graph.weights[x]) {
              const half = weightHalf(node, x, h0, out, w);
              if (!half) return undefined;
              ins.push(half);
            } else if (pairs(i, x)) ins.push(w === 0 ? hs[i]!.ctx : hs[i]!.cand);
            else return undefined;
          }
          return ins;
        });
      }
      if (node.op === "linear") {
        const slots = a.slots as number[] | undefined;
        if (!slots?.length || slots[0] !== t0[0] + t0[1]) return false;
        if (node.inputs.some((x, i) => i !== 0 && i !== 3 && !graph.weights[x])) return false;
        perToken(out, t0);
        // The residual is added flat: its halves must be the output's.
        if (node.inputs[3] && (hs[3]?.a !== halvesOf(out).a || hs[3]?.b !== halvesOf(out).b)) return false;
        return emit(
          (w) => node.inputs.map((x, i) => (i === 0 || i === 3 ? (w === 0 ? hs[i]!.ctx : hs[i]!.cand) : x)),
          (w) => ({ ...node.attrs, slots: [t0[w], ...slots.slice(1)] }),
        );
      }
      if (node.op === "split" || node.op === "layer_norm_axis" || node.op === "reduce") {
        const rank = shapeOf(node.inputs[0]!).length;
        const axes = node.op === "reduce" ? (a.axes as number[]) : [a.axis as number];
        if (axes.some((x) => (x < 0 ? x + rank + 1 : x) < 2) || node.inputs.slice(1).some((x) => !graph.weights[x])) return false;
        if (node.op === "reduce" && !axes.length) return false;
        for (const o of node.outputs) perToken(o, t0);
        return emit((w) => [w === 0 ? h0.ctx : h0.cand, ...node.inputs.slice(1)]);
      }
      if (node.op === "pointwise_attention") {
        if (a.mask !== "causal" || t0[1] !== 1 || ![1, 2].every(same)) return false;
        const flags = node.inputs.length > 3 && !graph.weights[node.inputs.at(-1)!] ? node.inputs.at(-1)! : undefined;
        const fh = flags ? halves.get(flags) : undefined;
        if (flags && (!fh || fh.a !== t0[0] || fh.b !== 1)) return false;
        const rab = node.inputs[3] && graph.weights[node.inputs[3]] ? [node.inputs[3]] : [];
        const [q, k, v] = [0, 1, 2].map((i) => hs[i]!);
        perToken(out, t0);
        nodes.push({ name: `${node.name}:history`, op: "pointwise_attention", inputs: [q!.ctx, k!.ctx, v!.ctx, ...rab, ...(fh ? [fh.ctx] : [])], outputs: [`${out}:history`], attrs: node.attrs });
        nodes.push({
          name: `${node.name}:candidate`, op: "pointwise_attention_candidates", inputs: [q!.cand, k!.cand, v!.cand, k!.ctx, v!.ctx, ...rab, ...(fh ? [fh.cand, fh.ctx] : [])],
          outputs: [`${out}:candidate`], attrs: node.attrs,
        });
        halves.set(out, { ...halvesOf(out), ctx: `${out}:history`, cand: `${out}:candidate` });
        attentions++;
        return true;
      }
      if (node.op === "slice") {
        const [start, end] = [a.start as number, a.end as number];
        if (start >= h0.a) {
          nodes.push({ name: node.name, op: "slice", inputs: [h0.cand], outputs: [out], attrs: { start: start - h0.a, end: end - h0.a } });
          return true;
        }
        if (end <= h0.a) {
          nodes.push({ name: node.name, op: "slice", inputs: [h0.ctx], outputs: [`${out}:history`], attrs: { start, end } });
          nodes.push({ name: `broadcast(${out}:history)`, op: "broadcast", inputs: [`${out}:history`], outputs: [out], attrs: {} });
          return true;
        }
      }
      return false;
    };
    for (const node of graph.nodes) {
      // A seed: concat(broadcast(history), candidate tokens) along the token axis.
      const wide = node.inputs[0] ? byValue.get(node.inputs[0]) : undefined;
      const axisOk = node.op === "concat" || (node.op === "concat_axis" && node.attrs.axis === 1);
      if (axisOk && node.inputs.length === 2 && wide?.op === "broadcast" && info.values.get(wide.inputs[0]!)?.role === "context" && info.values.get(node.inputs[1]!)?.role === "candidate") {
        const out = node.outputs[0]!;
        const h = { a: count(shapeOf(wide.inputs[0]!)), b: count(shapeOf(node.inputs[1]!)) };
        const shapes = halfShapes(out, h);
        if (shapes) {
          halves.set(out, { ...h, ctx: view(wide.inputs[0]!, shapes[0], "tokens"), cand: view(node.inputs[1]!, shapes[1], "tokens") });
          continue;
        }
      }
      if (node.inputs.some((i) => halves.has(i)) && split(node)) continue;
      for (const i of node.inputs) join(i);
      nodes.push(node);
    }
    for (const v of Object.values(graph.outputs)) join(v);
    if (attentions === 0) return { model, summary: "split-history: 0 HSTU attentions split (history tokens per candidate)" };
    graph.nodes = nodes;
    inferGraph(graph);
    return { model: { graph, weights }, summary: `split-history: ${attentions} HSTU attention${attentions === 1 ? "" : "s"} split, their history tokens computed once per request` };
  },
};
