// What an ONNX value is while importing. Per-row tensors become rankfn values;
// the other kinds are constants, shape arithmetic folded at load, and ids
// flattened across the batch (only PyTorch's EmbeddingBag Loop reads those).
import type { Tensor } from "../tensor/tensor";
import type { SymVec } from "./symbolic";

export type RowDType = "f32" | "i32" | "i64" | "bool";

/** Where the batch sits in a value's ONNX shape (runtime/onnx/batch-layout.ts); absent = first. */
export interface BatchLayout {
  /** The ONNX axis of size outer·N·inner. */
  axis: number;
  outer: number;
  inner: number;
}

export type TensorVal = {
  kind: "tensor";
  /** The rankfn value holding it (batch-major, `dims` flattened per row). */
  value: string;
  /** Dimensions of each stored row (after the batch axis, in ONNX order unless `layout` says otherwise). */
  dims: number[];
  /** Set when the ONNX shape does not have the batch first. */
  layout?: BatchLayout;
  dtype: RowDType;
  /** For a concat of equal-width pieces (a stack of experts): the pieces. */
  parts?: string[];
};

export type Val =
  | TensorVal
  /** A constant; `dims` is its ONNX shape ([] for a scalar). */
  | { kind: "const"; t: Tensor; dims: number[] }
  /** An integer vector (or scalar) that depends on the batch size. */
  | { kind: "sym"; vec: SymVec; scalar: boolean }
  /** Ids [N, perRow] reshaped to [N·perRow] (PyTorch's EmbeddingBag input). */
  | { kind: "flatIds"; value: string; perRow: number; dtype: RowDType };
