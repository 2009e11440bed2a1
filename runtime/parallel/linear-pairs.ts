// Which linears of a compiled graph run split over devices (`parallel.dense`),
// and how. A chain is two or more linear nodes where each one's output is read
// by the next one only, as its input, and by nothing else — no graph output, no
// other reader — so the values inside a chain never need to exist whole. The
// compiler fuses activations into the linears' epilogues (fuse-linear.ts); one
// left as a node of its own (optimize: false) right after a linear without one
// is taken into that linear's epilogue here. Per strategy:
// - "tensor": the chain is cut Megatron-style into pairs, the first linear of a
//   pair column-parallel (each device a slice of its output features), the
//   second row-parallel (the matching slice of its inputs: a partial sum),
//   one reduce per pair; an odd last linear runs column-parallel, each device
//   writing its slice of the output. An int8 second linear would quantize each
//   device's slice of its input over that slice's range, not the whole row's
//   (rf_gemm quantizes X per row), so such a pair runs as two column-parallel
//   linears instead: the same numbers as one device, one more sync.
// - "replicate": every device holds the whole chain and runs a share of the
//   batch's rows through all of it, one sync per chain.
import type { GraphInfo } from "../graph/infer";
import type { Graph, Node } from "../graph/schema";

export type DenseStrategy = "tensor" | "replicate";
export const denseStrategies: readonly DenseStrategy[] = ["tensor", "replicate"];

/** One linear as the parallel steps read it: y = act(x · Wᵀ + b) + r, W [n, k]. */
export interface ChainLinear {
  node: string;
  x: string;
  w: string;
  bias?: string;
  residual?: string;
  y: string;
  act: string;
  /** The activation node taken into this linear's epilogue (its step does nothing; `y` is its output). */
  absorbed?: string;
  n: number;
  k: number;
  dtype: string;
}

/** A unit of the dense parallel plan: run by the step of its first linear's node. */
export type DenseGroup =
  | { kind: "pair"; linears: [ChainLinear, ChainLinear] }
  | { kind: "column"; linears: [ChainLinear] }
  | { kind: "rows"; linears: ChainLinear[] };

const gemmDtypes = new Set(["f32", "bf16", "i8"]);
const activationOps = new Set(["relu", "gelu", "silu", "sigmoid", "tanh"]);

/** A linear the parallel steps can split: one GEMM (no per-slot form) over a 2-d weight, bias a weight, input and residual values. */
function chainLinear(graph: Graph, info: GraphInfo, node: Node): ChainLinear | undefined {
  if (node.op !== "linear") return undefined;
  const attrs = info.attrs.get(node.name) ?? node.attrs ?? {};
  const slots = ((attrs.slots as number[] | undefined) ?? []).reduce((a, b) => a * b, 1);
  if (slots > 1) return undefined;
  const [x, w, bias, residual] = node.inputs as [string, string, string?, string?];
  const spec = graph.weights[w];
  if (!spec || spec.shape.length !== 2 || !gemmDtypes.has(spec.dtype)) return undefined;
  if (Object.hasOwn(graph.weights, x) || (residual && Object.hasOwn(graph.weights, residual))) return undefined;
  if (bias && (!Object.hasOwn(graph.weights, bias) || graph.weights[bias]!.dtype !== "f32")) return undefined;
  if (info.values.get(x)?.dtype !== "f32") return undefined;
  const [n, k] = spec.shape as [number, number];
  return { node: node.name, x, w, bias: bias || undefined, residual: residual || undefined, y: node.outputs[0]!, act: (attrs.act as string | undefined) ?? "none", n, k, dtype: spec.dtype };
}

/** The graph's chains of two or more linears, in node order. */
export function linearChains(graph: Graph, info: GraphInfo): ChainLinear[][] {
  const readers = new Map<string, Node[]>();
  for (const node of graph.nodes) for (const input of new Set(node.inputs)) readers.set(input, [...(readers.get(input) ?? []), node]);
  const outputs = new Set(Object.values(graph.outputs));
  const aliased = new Set([...Object.keys(graph.aliases ?? {}), ...Object.values(graph.aliases ?? {}).map((a) => a.of)]);
  const linears = new Map<string, ChainLinear>();
  for (const node of graph.nodes) {
    const l = chainLinear(graph, info, node);
    if (!l) continue;
    const r = readers.get(l.y) ?? [];
    const act = r.length === 1 && r[0]!.inputs.length === 1 && activationOps.has(r[0]!.op) ? r[0]! : undefined;
    if (act && l.act === "none" && !l.residual && !outputs.has(l.y) && !aliased.has(l.y)) Object.assign(l, { act: act.op, absorbed: act.name, y: act.outputs[0]! });
    linears.set(node.name, l);
  }
  // next(l): the one linear reading l's output, as its input only.
  const next = new Map<string, ChainLinear>();
  for (const l of linears.values()) {
    if (outputs.has(l.y) || aliased.has(l.y)) continue;
    const r = readers.get(l.y) ?? [];
    if (r.length !== 1) continue;
    const m = linears.get(r[0]!.name);
    if (!m || m.x !== l.y || m.residual === l.y || m.k !== l.n) continue;
    next.set(l.node, m);
  }
  const followers = new Set([...next.values()].map((l) => l.node));
  const chains: ChainLinear[][] = [];
  for (const l of linears.values()) {
    if (followers.has(l.node)) continue;
    const chain = [l];
    for (let m = next.get(l.node); m; m = next.get(m.node)) chain.push(m);
    if (chain.length >= 2) chains.push(chain);
  }
  return chains;
}

/** The groups each chain runs as under `strategy`. */
export function denseGroups(chains: ChainLinear[][], strategy: DenseStrategy): DenseGroup[] {
  if (strategy === "replicate") return chains.map((linears) => ({ kind: "rows", linears }));
  const groups: DenseGroup[] = [];
  for (const chain of chains) {
    let i = 0;
    for (; i + 1 < chain.length; i += 2) {
      const [a, b] = [chain[i]!, chain[i + 1]!];
      if (b.dtype === "i8") groups.push({ kind: "column", linears: [a] }, { kind: "column", linears: [b] });
      else groups.push({ kind: "pair", linears: [a, b] });
    }
    if (i < chain.length) groups.push({ kind: "column", linears: [chain[i]!] });
  }
  return groups;
}

/**
 * `n` split into contiguous parts proportional to `weights` (a device's threads), each boundary
 * a multiple of `align` where every part can still get some (GEMM tiles); uneven splits are fine.
 */
export function splitByWeight(n: number, weights: readonly number[], align = 16): { start: number; end: number }[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const step = n >= align * weights.length ? align : 1;
  let acc = 0;
  const bounds = [0];
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    bounds.push(i === weights.length - 1 ? n : Math.min(n, Math.round((n * acc) / total / step) * step));
  }
  return weights.map((_, i) => ({ start: bounds[i]!, end: Math.max(bounds[i]!, bounds[i + 1]!) }));
}

/**
 * rf_gemm quantizes an int8 layer's X rows to int16 instead of u8 when m <= 24 on AVX2
 * (rankfn.h, rf_weight_set_act_bits), so a share of a batch's rows must stay on the same side
 * of that bound as the whole batch to score as one device does.
 */
export const INT8_SMALL_M = 24;

/** A batch's `rows` split into per-device shares (by `speeds`); with int8 layers, no share crosses INT8_SMALL_M the batch does not. */
export function rowShares(rows: number, speeds: readonly number[], int8: boolean): { start: number; end: number }[] {
  const used = int8 && rows > INT8_SMALL_M ? Math.max(1, Math.min(speeds.length, Math.floor(rows / (INT8_SMALL_M + 1)))) : speeds.length;
  const shares = splitByWeight(rows, speeds.slice(0, used), 8);
  // An 8-row alignment can leave a share of INT8_SMALL_M rows or fewer: then split evenly instead.
  const even = int8 && rows > INT8_SMALL_M && shares.some((s) => s.end - s.start <= INT8_SMALL_M) ? splitByWeight(rows, speeds.slice(0, used), 1) : shares;
  return [...even, ...speeds.slice(used).map(() => ({ start: rows, end: rows }))];
}

