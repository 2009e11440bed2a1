// Packed GEMM weights: packed once at load by the kernel library, owned here.
import type { Pointer } from "bun:ffi";
import { TensorError } from "../errors";
import type { Tensor } from "../tensor/tensor";
import { vectorData, matrixView } from "../tensor/tensor";
import { dtypes } from "../tensor/dtype";
import { NativeResource, check, native } from "./native";

export type WeightDType = "f32" | "bf16" | "i8";

const unreleased = new FinalizationRegistry<Pointer>((handle) => {
  // A weight garbage-collected without dispose(): free it rather than leak.
  native().rf_weight_free(handle);
});

/** A weight matrix W [n][k] packed for rf_gemm; row j is output channel j. */
export class PackedWeight extends NativeResource {
  protected readonly kind = "PackedWeight";
  readonly #handle: Pointer;

  private constructor(
    handle: Pointer,
    readonly n: number,
    readonly k: number,
    readonly dtype: WeightDType,
  ) {
    super();
    this.#handle = handle;
    unreleased.register(this, handle, this);
  }

  /**
   * Pack W ([n, k], f32 / bf16 / i8) for GEMM. int8 weights need per-row `scales` (f32 [n]).
   * @example using w = PackedWeight.pack(tensor("f32", [4, 3], data));
   */
  static pack(w: Tensor, scales?: Tensor, device = 0): PackedWeight {
    const m = matrixView(w, "weight", w.dtype);
    if (w.dtype !== "f32" && w.dtype !== "bf16" && w.dtype !== "i8") {
      throw new TensorError(`weight: dtype must be f32, bf16 or i8, got ${w.dtype}`, "bad_dtype");
    }
    if (m.ld !== m.cols) throw new TensorError("weight: must be contiguous", "bad_strides");
    if (w.dtype === "i8") {
      if (!scales) throw new TensorError(`weight: i8 weights need per-channel scales (f32 [${m.rows}])`, "missing_scales");
      vectorData(scales, "weight scales", "f32", m.rows);
    } else if (scales) {
      throw new TensorError(`weight: scales are only for i8 weights, not ${w.dtype}`, "unexpected_scales");
    }
    const out = new BigUint64Array(1);
    const status = native().rf_weight_pack(device, dtypes[w.dtype].code, m.rows, m.cols, m.data, scales?.data ?? null, out);
    check(status, "rf_weight_pack");
    return new PackedWeight(Number(out[0]) as Pointer, m.rows, m.cols, w.dtype);
  }

  /**
   * int8 only: quantize X per row over each group of columns [bounds[g], bounds[g+1]) instead of the
   * whole row (rf_weight_set_act_groups). bounds run from 0 to k; inner bounds are multiples of 4.
   */
  setActivationGroups(bounds: readonly number[]): void {
    this.alive();
    if (bounds.length < 2) throw new TensorError(`weight activation groups: need at least [0, k], got ${bounds.length} bounds`, "bad_groups");
    check(native().rf_weight_set_act_groups(this.#handle, bounds.length - 1, BigInt64Array.from(bounds, (b) => BigInt(b))), "rf_weight_set_act_groups");
  }

  /**
   * int8 only: the fewest bits X is quantized to per row (rf_weight_set_act_bits): 8 (u8, the default,
   * fastest on VNNI) or 16 (int16 levels: for layers whose u8 rounding reorders candidates).
   */
  setActivationBits(bits: 8 | 16): void {
    this.alive();
    check(native().rf_weight_set_act_bits(this.#handle, bits), "rf_weight_set_act_bits");
  }

  get handle(): Pointer {
    this.alive();
    return this.#handle;
  }

  protected release(): void {
    unreleased.unregister(this);
    native().rf_weight_free(this.#handle);
  }
}

/** Hint that `data`'s whole pages will not be read soon (rf_release_pages): contents never change. */
export function releasePages(data: ArrayBufferView): void {
  if (data.byteLength === 0) return;
  check(native().rf_release_pages(data as never, data.byteLength), "rf_release_pages");
}
