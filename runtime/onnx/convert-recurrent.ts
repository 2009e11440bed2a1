// ONNX GRU (nn.GRU as PyTorch exports it: forward, one direction, default
// sigmoid/tanh, zero initial state) over its fixed sequence length: the input
// projection of every step as one batched matmul, then the recurrence as one
// gru_sequence op (rf_gru_sequence), per row:
//   gx = x Wᵀ + Wb (all steps at once);  gh = h Rᵀ + Rb
//   z, r = σ(gx_zr + gh_zr);  n = tanh(gx_n + r ⊙ gh_n)   (linear_before_reset=1;
//   otherwise n = tanh(gx_n + (r ⊙ h) R_nᵀ + Rb_n));  h' = n + z ⊙ (h − n)
// The sequence axis is the rows' first stored axis whether the input is
// [L, N, I] (the batch moved inside: layout 0) or [N, L, I] (layout 1).
import { tensor } from "../tensor/tensor";
import { layoutOf } from "./batch-layout";
import { general, operand } from "./general";
import type { Importer, OnnxNode } from "./importer";

export function gru(imp: Importer, node: OnnxNode): void {
  const [xName, wName, rName, bName, seqLens, h0Name] = node.input ?? [];
  const H = imp.intAttr(node, "hidden_size", 0);
  const lbr = imp.intAttr(node, "linear_before_reset", 0) === 1;
  const batchFirst = imp.intAttr(node, "layout", 0) === 1;
  if (imp.stringAttr(node, "direction", "forward") !== "forward") imp.fail(node, "only forward GRUs are supported");
  if (imp.attr(node, "activations") || imp.attr(node, "clip")) imp.fail(node, "only the default activations (sigmoid, tanh) without clipping are supported");
  if (seqLens) imp.fail(node, "sequence_lens is not supported (every row has the full sequence)");
  const W = imp.constant(wName);
  const R = imp.constant(rName);
  if (!W || !R || W.dims[0] !== 1 || R.dims[0] !== 1 || W.dims[1] !== 3 * H || R.dims[1] !== 3 * H) imp.fail(node, "W and R must be constants [1, 3·hidden, *]");
  if (h0Name) {
    const h0 = imp.constant(h0Name);
    if (!h0 || Array.from(h0.t.data as ArrayLike<number | bigint>).some((v) => Number(v) !== 0)) imp.fail(node, "only a zero initial state is supported");
  }
  const x = imp.tensor(xName!, node, ["f32"], true);
  const l = layoutOf(x);
  if (batchFirst ? l.axis !== 0 : !(l.axis === 1 && l.outer === 1 && l.inner === 1)) imp.fail(node, `the input must be [${batchFirst ? "N, L" : "L, N"}, input_size]`);
  const [L, I] = x.dims as [number, number];
  const B = imp.constant(bName);
  const bias = B ? (B.t.data as Float32Array) : new Float32Array(6 * H);
  const transpose = (src: Float32Array, rows: number, cols: number) => {
    const t = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = src[i * cols + j]!;
    return t;
  };
  const wt = imp.derived(wName!, tensor("f32", [I, 3 * H], transpose(W.t.data as Float32Array, 3 * H, I)));
  const rt = imp.derived(rName!, tensor("f32", [H, 3 * H], transpose(R.t.data as Float32Array, 3 * H, H)));
  const wb = imp.derived(`${bName ?? node.name}.wb`, tensor("f32", [3 * H], bias.slice(0, 3 * H)));
  const rb = imp.derived(`${bName ?? node.name}.rb`, tensor("f32", [3 * H], bias.slice(3 * H)));
  let k = 0;
  const op = (name: string, inputs: string[], attrs: Record<string, unknown> = {}) => general(imp, name, inputs, attrs, node, `${node.output![0] || node.name}:gru${k++}`)[0]!.value;
  // Stored rows of x are [L, I]: the input projection of every step in one matmul, then the recurrence in one call.
  const gx = op("binary", [op("batch_matmul", [operand(imp, xName!, node), wt]), wb], { op: "add" });
  const all = op("gru_sequence", [gx, rt, rb], { linearBeforeReset: lbr }); // stored [L, H]
  const h = op("slice_nd", [all], { axes: [1], starts: [L - 1], counts: [1], steps: [1] }); // [1, H]
  const [yName, yhName] = node.output ?? [];
  if (yName) {
    // Y is [L, 1, N, H] (layout 0) or [N, L, 1, H] (layout 1).
    imp.set(yName, batchFirst ? { kind: "tensor", value: all, dims: [L, 1, H], dtype: "f32" } : { kind: "tensor", value: all, dims: [L, 1, H], dtype: "f32", layout: { axis: 2, outer: 1, inner: 1 } });
  }
  if (yhName) {
    // Y_h is [1, N, H] (layout 0) or [N, 1, H] (layout 1).
    imp.set(yhName, batchFirst ? { kind: "tensor", value: h, dims: [1, H], dtype: "f32" } : { kind: "tensor", value: h, dims: [1, H], dtype: "f32", layout: { axis: 1, outer: 1, inner: 1 } });
  }
}
