// Packed GEMM weights of one model, packed once at load and shared by every
// plan (batch-size bucket); the model file's pages of a packed weight are
// released, so a weight costs its packed copy only. Derived weights (transposes, attention splits) are
// cached under their own keys.
import { PackedWeight, releasePages } from "../ffi/weights";
import { isFileBacked } from "../model/safetensors";
import type { Graph } from "../graph/schema";
import { type Tensor, tensor } from "../tensor/tensor";

export class WeightCache {
  readonly #packed = new Map<string, PackedWeight>();

  constructor(
    private readonly graph: Graph,
    private readonly weights: Map<string, Tensor>,
  ) {}

  /** The weight `name` ([n, k], f32/bf16/i8 with its scales) packed for GEMM. */
  get(name: string): PackedWeight {
    let p = this.#packed.get(name);
    if (!p) {
      const spec = this.graph.weights[name];
      const t = this.weights.get(name);
      if (!spec || !t) throw new Error(`weight "${name}" is not in the model`);
      p = PackedWeight.pack(t, spec.scales ? this.weights.get(spec.scales) : undefined);
      if (spec.actGroups && t.dtype === "i8") p.setActivationGroups(spec.actGroups);
      if (spec.actBits === 16 && t.dtype === "i8") p.setActivationBits(16);
      this.#packed.set(name, p);
      // The kernels read the packed copy from now on: the file's pages of the weight go back to the
      // page cache instead of counting in this process (read again from the file if touched).
      if (isFileBacked(t.data)) releasePages(t.data);
    }
    return p;
  }

  /** A derived f32 matrix [n, k], computed once by `make` and packed. */
  derived(key: string, n: number, k: number, make: () => Float32Array): PackedWeight {
    let p = this.#packed.get(key);
    if (!p) {
      p = PackedWeight.pack(tensor("f32", [n, k], make()));
      this.#packed.set(key, p);
    }
    return p;
  }

  /** Total packed weights held. */
  get size(): number {
    return this.#packed.size;
  }

  dispose(): void {
    for (const p of this.#packed.values()) p.dispose();
    this.#packed.clear();
  }
}

/** f32 values of a weight (dequantized when bf16/i8) — for plan-time weight transforms. */
export function weightValues(graph: Graph, weights: Map<string, Tensor>, name: string): Float32Array {
  const t = weights.get(name)!;
  if (t.dtype === "f32") return t.data as Float32Array;
  if (t.dtype === "bf16") {
    const out = new Float32Array(t.data.length);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = (t.data as Uint16Array)[i]! << 16;
    return out;
  }
  if (t.dtype === "i8") {
    const scales = weights.get(graph.weights[name]!.scales!)!.data as Float32Array;
    const k = t.shape[1]!;
    return Float32Array.from(t.data as Int8Array, (q, i) => q * scales[Math.floor(i / k)]!);
  }
  throw new Error(`weight "${name}" has dtype ${t.dtype}, not a GEMM weight`);
}
