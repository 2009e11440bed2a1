// Quantization: GEMM weights to bf16 or int8 (symmetric, per output channel,
// with an f32 scales weight), embedding tables to fp16, int8 row-wise (u8q) or
// int4 row-wise (u4q, FBGEMM's fused 4-bit rows: ~7x smaller than fp32 at dim 128).
// Weights of ops that reshape them at load (target attention) stay fp32, and so
// do the output head's last `headLayers` linear layers: they are small (little
// speed to gain) and the most sensitive (their error lands on the scores
// directly; on DLRM, bf16 NDCG@10 goes from 0.9970 to 0.9998 by keeping 3).
// The accuracy this costs is measured by runtime/quality/ranking-accuracy.ts.
import type { Graph } from "../graph/schema";
import { quantizeInt8PerChannel, quantizeRowsU4, quantizeRowsU8, toBf16, toF16 } from "../tensor/quantize";
import { type Tensor, tensor } from "../tensor/tensor";
import { activationGroups } from "./activation-groups";
import { type Pass, cloneGraph } from "./pass";

export type WeightPrecision = "f32" | "bf16" | "int8";
export type TablePrecision = "f32" | "f16" | "u8q" | "u4q";

/** Positions of GEMM weights among each op's inputs. */
function gemmWeightInputs(op: string, inputs: string[], attrs: Record<string, unknown>): number[] {
  switch (op) {
    case "linear": return [1];
    case "cross": return attrs.lowRank ? [2, 3] : [2];
    case "moe": {
      const e = Number(attrs.experts);
      return [1, ...Array.from({ length: e }, (_, i) => [3 + 4 * i, 5 + 4 * i]).flat()];
    }
    default: return [];
  }
}

function tableInputs(op: string, inputs: string[]): number[] {
  if (op === "embedding_bag" || op === "embedding_sequence") return [1];
  if (op === "embedding_bags") return Array.from({ length: inputs.length / 2 }, (_, i) => inputs.length / 2 + i);
  return [];
}

/** Weights of the last `layers` linear nodes on each path back from a graph output (through unary ops). */
export function headWeights(graph: Graph, layers: number): Set<string> {
  const out = new Set<string>();
  const byValue = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const unary = new Set(["relu", "gelu", "silu", "sigmoid", "tanh", "softmax"]);
  for (const value of Object.values(graph.outputs)) {
    let node = byValue.get(value);
    let left = layers;
    while (node && left > 0) {
      if (node.op === "linear") {
        out.add(node.inputs[1]!);
        left--;
      } else if (!unary.has(node.op)) break;
      node = byValue.get(node.inputs[0]!);
    }
  }
  return out;
}

/** A GEMM weight left in fp32 by a quantization, and why (what the quantization report prints). */
export interface KeptWeight {
  weight: string;
  reason: string;
}

export interface QuantizeOptions {
  weights?: WeightPrecision;
  tables?: TablePrecision;
  /** Linear layers at the end of each output head kept in fp32 (default 3; 0 quantizes all). */
  headLayers?: number;
  /** Further weights kept in fp32: by name, or with the reason (calibration's choices, runtime/quality/calibrate.ts). */
  keep?: (string | KeptWeight)[];
  /**
   * int8 activation ranges per row: "segments" (default) gives inputs that are concatenations (or DCN
   * cross layers over one) a range per segment (compiler/activation-groups.ts); "row", one per row.
   */
  activationGroups?: "segments" | "row";
  /** Also split activation groups longer than this many columns (group-wise scales over long K; default: no split). */
  maxActivationGroup?: number;
  /** int8: the fewest bits activations are quantized to (rf_weight_set_act_bits; default 16), and weights that get 8 whatever it is. */
  activationBits?: 8 | 16;
  narrow?: (string | KeptWeight)[];
}

/** Every GEMM weight of `graph` with its position among its node's inputs. */
export function gemmWeights(graph: Graph): { node: string; op: string; weight: string }[] {
  return graph.nodes.flatMap((n) => gemmWeightInputs(n.op, n.inputs, n.attrs).map((i) => ({ node: n.name, op: n.op, weight: n.inputs[i]! })));
}

/** The GEMM weights a quantization with these options leaves in fp32, each with its reason (the first that applies). */
export function keptWeights(graph: Graph, { weights: wp = "f32", headLayers = 3, keep = [] }: QuantizeOptions): KeptWeight[] {
  if (wp === "f32") return [];
  const reasons = new Map<string, string>();
  for (const w of headWeights(graph, headLayers)) reasons.set(w, `output head: one of the last ${headLayers} linear layers before an output (headLayers; their error lands on the scores directly)`);
  for (const k of keep) {
    const { weight, reason } = typeof k === "string" ? { weight: k, reason: "kept by name (keep)" } : k;
    if (!reasons.has(weight)) reasons.set(weight, reason);
  }
  const present = new Set(gemmWeights(graph).map((g) => g.weight));
  return [...reasons].filter(([w]) => present.has(w)).map(([weight, reason]) => ({ weight, reason }));
}

/** The int8 GEMM weights a quantization with these options runs with u8 activations, each with its reason. */
export function narrowedWeights(graph: Graph, options: QuantizeOptions): KeptWeight[] {
  if (options.weights !== "int8") return [];
  const kept = new Set(keptWeights(graph, options).map((k) => k.weight));
  const int8 = [...new Set(gemmWeights(graph).map((g) => g.weight))].filter((w) => !kept.has(w));
  if (options.activationBits === 8) return int8.map((weight) => ({ weight, reason: "activationBits: 8" }));
  const narrow = new Map((options.narrow ?? []).map((n) => (typeof n === "string" ? [n, "narrowed by name (narrow)"] : [n.weight, n.reason])));
  return int8.filter((w) => narrow.has(w)).map((weight) => ({ weight, reason: narrow.get(weight)! }));
}

export function quantize({ weights: wp = "f32", tables: tp = "f32", headLayers = 3, keep = [], activationGroups: groupMode = "segments", maxActivationGroup = Infinity, activationBits = 16, narrow = [] }: QuantizeOptions): Pass {
  return {
    name: "quantize",
    run(model) {
      const graph: Graph = cloneGraph(model.graph);
      const groups = wp === "int8" && groupMode === "segments" ? activationGroups(graph, maxActivationGroup) : new Map<string, number[]>();
      let grouped = 0;
      let wideCount = 0;
      const narrowSet = new Set(narrow.map((w) => (typeof w === "string" ? w : w.weight)));
      const keptList = keptWeights(graph, { weights: wp, headLayers, keep });
      const kept = new Set(keptList.map((k) => k.weight));
      const byName = keptList.length - headWeights(graph, headLayers).size;
      const weights = new Map(model.weights);
      const done = new Set<string>();
      let gemm = 0;
      let tables = 0;
      let before = 0;
      let after = 0;
      const convert = (name: string, make: (t: Tensor) => Tensor[]) => {
        if (done.has(name)) return false;
        const t = weights.get(name)!;
        if (t.dtype !== "f32") return false;
        done.add(name);
        before += t.data.byteLength;
        const [q, scales] = make(t);
        weights.set(name, q!);
        graph.weights[name] = { dtype: q!.dtype, shape: q!.shape };
        after += q!.data.byteLength;
        if (scales) {
          const sName = `${name}.scales`;
          weights.set(sName, scales);
          graph.weights[sName] = { dtype: "f32", shape: scales.shape };
          graph.weights[name]!.scales = sName;
          after += scales.data.byteLength;
        }
        return true;
      };
      for (const node of graph.nodes) {
        if (wp !== "f32") {
          for (const i of gemmWeightInputs(node.op, node.inputs, node.attrs)) {
            if (kept.has(node.inputs[i]!)) continue;
            const converted = convert(node.inputs[i]!, (t) => {
              const [n, k] = t.shape as [number, number];
              if (wp === "bf16") return [tensor("bf16", t.shape, toBf16(t.data as Float32Array))];
              const { q, scales } = quantizeInt8PerChannel(t.data as Float32Array, n, k);
              return [tensor("i8", t.shape, q), tensor("f32", [n], scales)];
            });
            if (converted) gemm++;
            if (converted && wp === "int8" && activationBits === 16 && !narrowSet.has(node.inputs[i]!)) {
              graph.weights[node.inputs[i]!]!.actBits = 16;
              wideCount++;
            }
            const bounds = groups.get(node.inputs[i]!);
            if (converted && bounds) {
              graph.weights[node.inputs[i]!]!.actGroups = bounds;
              grouped++;
            }
          }
        }
        if (tp !== "f32") {
          for (const i of tableInputs(node.op, node.inputs)) {
            const converted = convert(node.inputs[i]!, (t) => {
              const [rows, dim] = t.shape as [number, number];
              const data = t.data as Float32Array;
              if (tp === "f16") return [tensor("f16", t.shape, toF16(data))];
              return [tp === "u4q" ? tensor("u4q", t.shape, quantizeRowsU4(data, rows, dim)) : tensor("u8q", t.shape, quantizeRowsU8(data, rows, dim))];
            });
            if (converted) tables++;
          }
        }
      }
      const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
      return {
        model: { graph, weights },
        summary: `quantize: ${gemm} GEMM weights -> ${wp} (${kept.size} kept fp32${byName > 0 ? `, ${byName} of them by name or calibration` : ""}${grouped > 0 ? `, ${grouped} with per-segment activation ranges` : ""}${wp === "int8" ? `, ${wideCount} with 16-bit activations, ${gemm - wideCount} with 8-bit` : ""}), ${tables} tables -> ${tp} (${mb(before)} -> ${mb(after)})`,
      };
    },
  };
}
