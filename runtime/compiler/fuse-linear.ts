// Fusion around GEMMs, as pattern -> rewrite rules applied until none fires:
//   matmul(x, W[k,n])                 -> linear(x, Wᵀ)
//   batch_matmul(x[.., k], W[k,n])    -> linear{slots}(x, Wᵀ)     (a per-slot linear: rows × slots GEMM rows)
//   linear(x, W) ; add(·, b[n])       -> linear(x, W, b)          (bias, or bias += b)
//   linear(x, W, b) ; mul(·, s[n])    -> linear(x, W·s, b·s)      (scale folding)
//   linear(x, W, b) ; batch_norm(·)   -> linear(x, W', b')        (batch-norm folding)
//   linear(x, W, b) ; relu|gelu|...   -> linear{act}(x, W, b)
//   linear{act}(x, W, b) ; add(·, r)  -> linear{act}(x, W, b, r)  (residual epilogue)
// The general binary{add|mul} and unary{act} forms count as add, mul and act where they
// broadcast as those do (generalAsRowOp).
// A rewrite needs the linear's output to have no other reader, and weight
// folds need f32 weights (quantization runs after fusion).
import type { Graph, Node } from "../graph/schema";
import { inferGraph } from "../graph/infer";
import { type Tensor, tensor } from "../tensor/tensor";
import { type Pass, cloneGraph, producers, pruneWeights, replaceUses, useCounts } from "./pass";

const activationOps = new Set(["relu", "gelu", "silu", "sigmoid", "tanh"]);

interface Ctx {
  graph: Graph;
  weights: Map<string, Tensor>;
  fired: Map<string, number>;
  counter: number;
}

function newWeight(ctx: Ctx, base: string, t: Tensor): string {
  let name = `${base}.fused`;
  while (Object.hasOwn(ctx.graph.weights, name)) name = `${base}.fused${++ctx.counter}`;
  ctx.graph.weights[name] = { dtype: t.dtype, shape: t.shape };
  ctx.weights.set(name, t);
  return name;
}

const f32 = (ctx: Ctx, name: string) => (ctx.graph.weights[name]?.dtype === "f32" ? (ctx.weights.get(name)!.data as Float32Array) : undefined);

/** Remove `consumer` and let its output be the linear's output. */
function absorb(ctx: Ctx, linear: Node, consumer: Node, rule: string): void {
  replaceUses(ctx.graph, consumer.outputs[0]!, linear.outputs[0]!);
  // By its output: the consumer may be the row-wise view of a general node (generalAsRowOp).
  ctx.graph.nodes = ctx.graph.nodes.filter((n) => n.outputs[0] !== consumer.outputs[0]);
  ctx.fired.set(rule, (ctx.fired.get(rule) ?? 0) + 1);
}

/** Scale rows of W by s and the bias by s (optionally shifting it first). */
function scaleLinear(ctx: Ctx, linear: Node, scale: Float32Array, shift?: Float32Array, add?: Float32Array): boolean {
  const w = f32(ctx, linear.inputs[1]!);
  if (!w) return false;
  const [n, k] = ctx.graph.weights[linear.inputs[1]!]!.shape as [number, number];
  const bias = linear.inputs[2] ? f32(ctx, linear.inputs[2]) : new Float32Array(n);
  if (!bias) return false;
  const w2 = new Float32Array(n * k);
  const b2 = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    for (let l = 0; l < k; l++) w2[j * k + l] = w[j * k + l]! * scale[j]!;
    b2[j] = (bias[j]! - (shift?.[j] ?? 0)) * scale[j]! + (add?.[j] ?? 0);
  }
  linear.inputs[1] = newWeight(ctx, linear.inputs[1]!, tensor("f32", [n, k], w2));
  linear.inputs[2] = newWeight(ctx, linear.inputs[2] ?? `${linear.name}.bias`, tensor("f32", [n], b2));
  return true;
}

/**
 * The general form of a linear's reader as the row-wise op the rules know (the importer emits
 * binary/unary where the value's batch is not first, as in a sequence-first transformer):
 * binary{add|mul} with a constant of one value per output feature ([n], [1, .., n], no larger
 * rank) or with an activation of the linear's own shape; unary{relu|gelu|…}. The node itself
 * when it is a row-wise op; undefined when its general form does not match a rule.
 */
function generalAsRowOp(ctx: Ctx, consumer: Node, out: string): Node | undefined {
  const kind = consumer.attrs.op as string | undefined;
  if (consumer.op === "unary") return kind && activationOps.has(kind) ? { ...consumer, op: kind } : undefined;
  if (consumer.op !== "binary") return consumer;
  if ((kind !== "add" && kind !== "mul") || consumer.inputs.length !== 2) return undefined;
  const other = consumer.inputs.find((i) => i !== out);
  if (!other) return undefined;
  const info = inferGraph(ctx.graph);
  const shape = info.values.get(out)!.shape;
  const w = ctx.graph.weights[other];
  if (w) {
    const n = shape.at(-1)!;
    const count = w.shape.reduce((a, b) => a * b, 1);
    return w.shape.length <= shape.length && w.shape.at(-1) === n && count === n ? { ...consumer, op: kind } : undefined;
  }
  const o = info.values.get(other);
  return kind === "add" && o?.dtype === "f32" && o.shape.join() === shape.join() ? { ...consumer, op: "add" } : undefined;
}

function tryRewrite(ctx: Ctx, node: Node, uses: Map<string, number>, byValue: Map<string, Node>): boolean {
  const { graph } = ctx;
  if (node.op === "matmul") {
    const w = f32(ctx, node.inputs[1]!);
    if (!w) return false;
    const [k, n] = graph.weights[node.inputs[1]!]!.shape as [number, number];
    const t = new Float32Array(n * k);
    for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) t[c * k + r] = w[r * n + c]!;
    node.op = "linear";
    node.inputs = [node.inputs[0]!, newWeight(ctx, node.inputs[1]!, tensor("f32", [n, k], t))];
    node.attrs = {};
    ctx.fired.set("matmul->linear", (ctx.fired.get("matmul->linear") ?? 0) + 1);
    return true;
  }
  if (node.op === "batch_matmul" && !graph.weights[node.inputs[0]!] && graph.weights[node.inputs[1]!]?.shape.length === 2) {
    const w = f32(ctx, node.inputs[1]!);
    const x = inferGraph(graph).values.get(node.inputs[0]!);
    if (!w || !x || x.shape.length < 2) return false;
    const [k, n] = graph.weights[node.inputs[1]!]!.shape as [number, number];
    const t = new Float32Array(n * k);
    for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) t[c * k + r] = w[r * n + c]!;
    node.op = "linear";
    node.inputs = [node.inputs[0]!, newWeight(ctx, node.inputs[1]!, tensor("f32", [n, k], t))];
    node.attrs = { slots: x.shape.slice(0, -1) };
    ctx.fired.set("matmul->linear", (ctx.fired.get("matmul->linear") ?? 0) + 1);
    return true;
  }
  if (node.op !== "linear" || node.inputs.length > 1 && !graph.weights[node.inputs[1]!]) return false;
  const out = node.outputs[0]!;
  if (uses.get(out) !== 1 || Object.values(graph.outputs).includes(out)) return false;
  const found = graph.nodes.find((n) => n.inputs.includes(out));
  const consumer = found && generalAsRowOp(ctx, found, out);
  if (!consumer) return false;
  const act = (node.attrs.act as string | undefined) ?? "none";
  const hasResidual = node.inputs.length > 3;
  const other = consumer.inputs.find((i) => i !== out);
  const slots = ((node.attrs.slots as number[] | undefined) ?? []).reduce((p, q) => p * q, 1);
  /** A row constant as one value per output feature (a per-slot linear's constants repeat every n), or undefined. */
  const perFeature = (name: string): Float32Array | undefined => {
    const v = f32(ctx, name);
    // A general binary op's constant broadcasts: one value per feature, whatever the slots.
    if (!v || slots === 1 || found !== consumer) return v;
    const n = v.length / slots;
    if (!Number.isInteger(n) || v.some((x, i) => x !== v[i % n])) return undefined;
    return v.slice(0, n);
  };
  if (consumer.op === "add" && other && graph.weights[other] && act === "none" && !hasResidual) {
    const b = perFeature(other);
    if (!b) return false;
    if (node.inputs[2]) {
      const b0 = f32(ctx, node.inputs[2]);
      if (!b0) return false;
      node.inputs[2] = newWeight(ctx, node.inputs[2], tensor("f32", [b.length], Float32Array.from(b, (v, i) => v + b0[i]!)));
    } else {
      node.inputs[2] = slots === 1 ? other : newWeight(ctx, other, tensor("f32", [b.length], b));
    }
    absorb(ctx, node, consumer, "bias");
    return true;
  }
  if (consumer.op === "mul" && other && graph.weights[other] && act === "none" && !hasResidual) {
    const s = perFeature(other);
    if (!s || !scaleLinear(ctx, node, s)) return false;
    absorb(ctx, node, consumer, "scale");
    return true;
  }
  if (consumer.op === "batch_norm" && act === "none" && !hasResidual && slots === 1) {
    const [gamma, beta, mean, variance] = consumer.inputs.slice(1).map((w) => f32(ctx, w));
    if (!gamma || !beta || !mean || !variance) return false;
    const eps = (consumer.attrs.eps as number | undefined) ?? 1e-5;
    const scale = Float32Array.from(gamma, (g, i) => g / Math.sqrt(variance[i]! + eps));
    if (!scaleLinear(ctx, node, scale, mean, beta)) return false;
    absorb(ctx, node, consumer, "batch-norm");
    return true;
  }
  if (activationOps.has(consumer.op) && act === "none" && !hasResidual) {
    node.attrs = { ...node.attrs, act: consumer.op };
    absorb(ctx, node, consumer, "activation");
    return true;
  }
  if (consumer.op === "add" && other && !graph.weights[other] && !hasResidual) {
    // The residual must be computed before the linear runs and have the same role.
    const info = inferGraph(graph);
    const producer = byValue.get(other);
    const order = graph.nodes.indexOf(node);
    if (info.values.get(other)!.role !== info.values.get(out)!.role) return false;
    if (producer && graph.nodes.indexOf(producer) > order) return false;
    if (!node.inputs[2]) node.inputs[2] = newWeight(ctx, `${node.name}.bias`, tensor("f32", [info.values.get(out)!.shape.at(-1)!]));
    node.inputs[3] = other;
    absorb(ctx, node, consumer, "residual");
    return true;
  }
  return false;
}

export const fuseLinear: Pass = {
  name: "fuse-linear",
  run(model) {
    const ctx: Ctx = { graph: cloneGraph(model.graph), weights: new Map(model.weights), fired: new Map(), counter: 0 };
    const before = ctx.graph.nodes.length;
    for (let changed = true; changed; ) {
      changed = false;
      const uses = useCounts(ctx.graph);
      const byValue = producers(ctx.graph);
      for (const node of ctx.graph.nodes) {
        if (tryRewrite(ctx, node, uses, byValue)) {
          changed = true;
          break;
        }
      }
    }
    const weights = pruneWeights(ctx.graph, ctx.weights);
    inferGraph(ctx.graph);
    const fired = [...ctx.fired].map(([rule, n]) => `${n} ${rule}`).join(", ") || "nothing to fuse";
    return { model: { graph: ctx.graph, weights }, summary: `fuse-linear: ${before} -> ${ctx.graph.nodes.length} nodes (${fired})` };
  },
};
