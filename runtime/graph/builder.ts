// Builds graphs in code: the model zoo and custom models use it. Methods take
// and return value names; weights get deterministic seeded initial values.
// Layers are emitted unfused (linear, then its activation) — fusing them is
// the compiler's job.
import { Rng } from "../tensor/random";
import { type Tensor, tensor } from "../tensor/tensor";
import type { Activation } from "../ffi/activations";
import { inferGraph } from "./infer";
import { type Graph, type GraphInput, type Node, type Role, GraphError, parseGraph } from "./schema";

export interface BuiltModel {
  graph: Graph;
  weights: Map<string, Tensor>;
  /** Import-time notes (e.g. which ONNX patterns were rewritten), reported with the compiler's. */
  notes?: string[];
}

export class GraphBuilder {
  readonly #inputs: GraphInput[] = [];
  readonly #nodes: Node[] = [];
  readonly #weights = new Map<string, Tensor>();
  readonly #outputs: Record<string, string> = {};
  readonly #rng: Rng;
  readonly #widths = new Map<string, number>();
  #counter = 0;

  constructor(
    readonly name: string,
    seed = 1,
  ) {
    this.#rng = new Rng(seed);
  }

  /** A fresh unique name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.#counter++}`;
  }

  /** Per-row width of a value built so far. */
  width(v: string): number {
    const w = this.#widths.get(v);
    if (w === undefined) throw new GraphError(`GraphBuilder: unknown value "${v}"`);
    return w;
  }

  input(name: string, dtype: "f32" | "i32" | "i64", width: number, role: Role, options: Partial<Pick<GraphInput, "padding" | "nonFinite" | "sequence">> = {}): string {
    this.#inputs.push({ name, dtype, shape: [width], role, ...options });
    this.#widths.set(name, width);
    return name;
  }

  /** A weight with given values. */
  weight(name: string, t: Tensor): string {
    if (this.#weights.has(name)) throw new GraphError(`GraphBuilder: weight "${name}" defined twice`);
    this.#weights.set(name, t);
    return name;
  }

  /** A weight drawn uniformly from center ± scale (seeded). */
  randomWeight(name: string, shape: number[], scale: number, center = 0): string {
    return this.weight(name, tensor("f32", shape, this.#rng.floats(shape.reduce((a, b) => a * b, 1), center - scale, center + scale)));
  }

  node(op: string, inputs: string[], width: number, attrs: Record<string, unknown> = {}, name = this.fresh(op)): string {
    const out = `${name}:0`;
    this.#nodes.push({ name, op, inputs, outputs: [out], attrs });
    this.#widths.set(out, width);
    return out;
  }

  /** A node with several outputs (`${name}:i`, of the given widths). */
  nodeOutputs(op: string, inputs: string[], widths: number[], attrs: Record<string, unknown> = {}, name = this.fresh(op)): string[] {
    const outs = widths.map((w, i) => {
      this.#widths.set(`${name}:${i}`, w);
      return `${name}:${i}`;
    });
    this.#nodes.push({ name, op, inputs, outputs: outs, attrs });
    return outs;
  }

  /**
   * y = act(x · Wᵀ + b), as linear + activation nodes. Weights are He-uniform before
   * rectifying activations (keeps the signal's scale through deep ReLU stacks, so a
   * generated model's scores spread like a trained one's) and Glorot-uniform otherwise.
   */
  linear(x: string, outFeatures: number, act: Activation = "none", prefix = this.fresh("fc")): string {
    const k = this.width(x);
    const rectified = act === "relu" || act === "gelu" || act === "silu";
    const w = this.randomWeight(`${prefix}.weight`, [outFeatures, k], Math.sqrt(6 / (rectified ? k : k + outFeatures)));
    const b = this.randomWeight(`${prefix}.bias`, [outFeatures], 0.01);
    const y = this.node("linear", [x, w, b], outFeatures, {}, prefix);
    return act === "none" ? y : this.node(act, [y], outFeatures);
  }

  /** An MLP: a linear layer per size, `act` between layers, `last` after the final one. */
  mlp(x: string, sizes: readonly number[], act: Activation = "relu", last: Activation = act, prefix = this.fresh("mlp")): string {
    let h = x;
    sizes.forEach((n, i) => (h = this.linear(h, n, i === sizes.length - 1 ? last : act, `${prefix}.${i}`)));
    return h;
  }

  /** A table [rows, dim] (seeded, ±scale) and a pooled lookup of `ids` in it. */
  embeddingBag(ids: string, rows: number, dim: number, mode: "sum" | "mean" | "gather" = "sum", name = this.fresh("emb"), scale = 0.05): string {
    const table = this.randomWeight(`${name}.table`, [rows, dim], scale);
    return this.node("embedding_bag", [ids, table], dim, { mode }, name);
  }

  concat(values: string[]): string {
    return this.node("concat", values, values.reduce((a, v) => a + this.width(v), 0));
  }

  output(name: string, value: string): void {
    this.#outputs[name] = value;
  }

  /** The validated graph and its weights. */
  build(): BuiltModel {
    const weights: Graph["weights"] = {};
    for (const [name, t] of this.#weights) weights[name] = { dtype: t.dtype, shape: t.shape };
    const graph = parseGraph({ format: "rankfn.graph/1", name: this.name, inputs: this.#inputs, weights, nodes: this.#nodes, outputs: this.#outputs });
    inferGraph(graph);
    return { graph, weights: new Map(this.#weights) };
  }
}
