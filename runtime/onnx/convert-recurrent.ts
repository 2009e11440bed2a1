// ONNX GRU (nn.GRU as PyTorch exports it: forward, reverse or bidirectional,
// default sigmoid/tanh, a zero or a per-row initial state) over its fixed
// sequence length. Per direction: the input projection of every step as one
// batched matmul, then the recurrence as one gru_sequence op (rf_gru_sequence):
//   gx = x Wᵀ + Wb (all steps at once);  gh = h Rᵀ + Rb
//   z, r = σ(gx_zr + gh_zr);  n = tanh(gx_n + r ⊙ gh_n)   (linear_before_reset=1;
//   otherwise n = tanh(gx_n + (r ⊙ h) R_nᵀ + Rb_n));  h' = n + z ⊙ (h − n)
// The sequence axis is the rows' first stored axis whether the input is
// [L, N, I] (the batch moved inside: layout 0) or [N, L, I] (layout 1); Y is
// stored [L, D, H] and Y_h [D, H] per row for D directions, in both layouts.
import { tensor } from "../tensor/tensor";
import { layoutOf } from "./batch-layout";
import { general, operand } from "./general";
import type { Importer, OnnxNode } from "./importer";

const transpose = (src: Float32Array, rows: number, cols: number) => {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = src[i * cols + j]!;
  return t;
};

export function gru(imp: Importer, node: OnnxNode): void {
  const [xName, wName, rName, bName, seqLens, h0Name] = node.input ?? [];
  const H = imp.intAttr(node, "hidden_size", 0);
  const lbr = imp.intAttr(node, "linear_before_reset", 0) === 1;
  const batchFirst = imp.intAttr(node, "layout", 0) === 1;
  const direction = imp.stringAttr(node, "direction", "forward");
  if (!["forward", "reverse", "bidirectional"].includes(direction)) imp.fail(node, `direction "${direction}" is not forward, reverse or bidirectional`);
  const D = direction === "bidirectional" ? 2 : 1;
  if (imp.attr(node, "activations") || imp.attr(node, "clip")) imp.fail(node, "only the default activations (sigmoid, tanh) without clipping are supported");
  if (seqLens) imp.fail(node, "sequence_lens is not supported (every row has the full sequence)");
  const W = imp.constant(wName);
  const R = imp.constant(rName);
  if (!W || !R || W.dims[0] !== D || R.dims[0] !== D || W.dims[1] !== 3 * H || R.dims[1] !== 3 * H || R.dims[2] !== H) imp.fail(node, `W and R must be constants [${D}, 3·hidden, *]`);
  const x = imp.tensor(xName!, node, ["f32"], true);
  const l = layoutOf(x);
  if (batchFirst ? l.axis !== 0 : !(l.axis === 1 && l.outer === 1 && l.inner === 1)) imp.fail(node, `the input must be [${batchFirst ? "N, L" : "L, N"}, input_size]`);
  const [L, I] = x.dims as [number, number];
  if (W.dims[2] !== I) imp.fail(node, `W has input size ${W.dims[2]}, the input ${I}`);
  const B = imp.constant(bName);
  const bias = B ? (B.t.data as Float32Array) : new Float32Array(D * 6 * H);
  let k = 0;
  const op = (name: string, inputs: string[], attrs: Record<string, unknown> = {}) => general(imp, name, inputs, attrs, node, `${node.output![0] || node.name}:gru${k++}`)[0]!.value;
  // The initial state [D, N, H] (layout 0) or [N, D, H] (layout 1): stored [D, H] per row either way.
  let h0: string | undefined;
  if (h0Name) {
    const c = imp.constant(h0Name);
    if (c) {
      if (Array.from(c.t.data as ArrayLike<number | bigint>).some((v) => Number(v) !== 0)) imp.fail(node, "a constant initial state must be zeros (a per-row one may be computed)");
    } else {
      const s = imp.tensor(h0Name, node, ["f32"], true);
      const hl = layoutOf(s);
      const ok = batchFirst ? hl.axis === 0 : hl.axis === 1 && hl.outer === 1 && hl.inner === 1;
      if (!ok || s.dims.reduce((p, q) => p * q, 1) !== D * H) imp.fail(node, `the initial state must be [${batchFirst ? `N, ${D}, ${H}` : `${D}, N, ${H}`}]`);
      h0 = operand(imp, h0Name, node);
    }
  }
  const xs = operand(imp, xName!, node);
  const states: string[] = [];
  const finals: string[] = [];
  for (let d = 0; d < D; d++) {
    const reverse = direction === "reverse" || d === 1;
    const w = (W.t.data as Float32Array).subarray(d * 3 * H * I, (d + 1) * 3 * H * I);
    const r = (R.t.data as Float32Array).subarray(d * 3 * H * H, (d + 1) * 3 * H * H);
    const b = bias.subarray(d * 6 * H, (d + 1) * 6 * H);
    const wt = imp.derived(`${wName}.${d}`, tensor("f32", [I, 3 * H], transpose(w, 3 * H, I)));
    const rt = imp.derived(`${rName}.${d}`, tensor("f32", [H, 3 * H], transpose(r, 3 * H, H)));
    const wb = imp.derived(`${bName ?? node.name}.wb${d}`, tensor("f32", [3 * H], b.slice(0, 3 * H)));
    const rb = imp.derived(`${bName ?? node.name}.rb${d}`, tensor("f32", [3 * H], b.slice(3 * H)));
    // Stored rows of x are [L, I]: the input projection of every step in one matmul, then the recurrence in one call.
    const gx = op("binary", [op("batch_matmul", [xs, wt]), wb], { op: "add" });
    const h0d = h0 ? [op("slice_nd", [op("reshape", [h0], { shape: [D, H] })], { axes: [1], starts: [d], counts: [1], steps: [1] })] : [];
    const all = op("gru_sequence", [gx, rt, rb, ...h0d], { linearBeforeReset: lbr, reverse }); // stored [L, H]
    states.push(D === 1 ? all : op("reshape", [all], { shape: [L, 1, H] }));
    finals.push(op("slice_nd", [all], { axes: [1], starts: [reverse ? 0 : L - 1], counts: [1], steps: [1] })); // [1, H]
  }
  const y = D === 1 ? states[0]! : op("concat_axis", states, { axis: 2 }); // stored [L, D, H]
  const yh = D === 1 ? finals[0]! : op("concat_axis", finals, { axis: 1 }); // stored [D, H]
  const [yName, yhName] = node.output ?? [];
  if (yName) {
    // Y is [L, D, N, H] (layout 0) or [N, L, D, H] (layout 1).
    imp.set(yName, batchFirst ? { kind: "tensor", value: y, dims: [L, D, H], dtype: "f32" } : { kind: "tensor", value: y, dims: [L, D, H], dtype: "f32", layout: { axis: 2, outer: 1, inner: 1 } });
  }
  if (yhName) {
    // Y_h is [D, N, H] (layout 0) or [N, D, H] (layout 1).
    imp.set(yhName, batchFirst ? { kind: "tensor", value: yh, dims: [D, H], dtype: "f32" } : { kind: "tensor", value: yh, dims: [D, H], dtype: "f32", layout: { axis: 1, outer: 1, inner: 1 } });
  }
}
