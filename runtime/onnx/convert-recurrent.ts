// ONNX GRU (nn.GRU as PyTorch exports it: forward, one direction, default
// sigmoid/tanh, zero initial state) unrolled over its fixed sequence length
// into general tensor ops, per row:
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
  const rtN = imp.derived(rName!, tensor("f32", [H, H], transpose((R.t.data as Float32Array).slice(2 * H * H), H, H)));
  const wb = imp.derived(`${bName ?? node.name}.wb`, tensor("f32", [3 * H], bias.slice(0, 3 * H)));
  const rb = bias.slice(3 * H);
  const rbAll = imp.derived(`${bName ?? node.name}.rb`, tensor("f32", [3 * H], rb));
  const rbN = imp.derived(`${bName ?? node.name}.rbn`, tensor("f32", [H], rb.slice(2 * H)));
  let k = 0;
  const op = (name: string, inputs: string[], attrs: Record<string, unknown> = {}) => general(imp, name, inputs, attrs, node, `${node.output![0] || node.name}:gru${k++}`)[0]!.value;
  const cols = (v: string, from: number, to: number) => op("slice_nd", [v], { axes: [2], starts: [from], counts: [to - from], steps: [1] });
  // Stored rows of x are [L, I]: the input projection of every step in one matmul.
  const gx = op("binary", [op("batch_matmul", [operand(imp, xName!, node), wt]), wb], { op: "add" });
  let h: string | undefined;
  const states: string[] = [];
  for (let t = 0; t < L; t++) {
    const gxt = op("slice_nd", [gx], { axes: [1], starts: [t], counts: [1], steps: [1] }); // [1, 3H]
    // With h = 0 (the first step) the recurrent projection is its bias alone.
    const gh = h ? op("binary", [op("batch_matmul", [h, rt]), rbAll], { op: "add" }) : undefined;
    const ghPart = (from: number, to: number) => (gh ? cols(gh, from, to) : imp.derived(`${node.name}.rb${from}`, tensor("f32", [to - from], rb.slice(from, to))));
    const zr = op("unary", [op("binary", [cols(gxt, 0, 2 * H), ghPart(0, 2 * H)], { op: "add" })], { op: "sigmoid" });
    const z = cols(zr, 0, H);
    const r = cols(zr, H, 2 * H);
    let recurrent: string;
    if (lbr || !h) recurrent = op("binary", [r, ghPart(2 * H, 3 * H)], { op: "mul" });
    else recurrent = op("binary", [op("batch_matmul", [op("binary", [r, h], { op: "mul" }), rtN]), rbN], { op: "add" });
    const n = op("unary", [op("binary", [cols(gxt, 2 * H, 3 * H), recurrent], { op: "add" })], { op: "tanh" });
    // h' = n + z ⊙ (h − n); with h = 0: n − z ⊙ n.
    const diff = h ? op("binary", [h, n], { op: "sub" }) : op("unary", [n], { op: "neg" });
    h = op("binary", [n, op("binary", [z, diff], { op: "mul" })], { op: "add" });
    states.push(h);
  }
  const [yName, yhName] = node.output ?? [];
  const all = op("concat_axis", states, { axis: 1 }); // stored [L, H]
  if (yName) {
    // Y is [L, 1, N, H] (layout 0) or [N, L, 1, H] (layout 1).
    imp.set(yName, batchFirst ? { kind: "tensor", value: all, dims: [L, 1, H], dtype: "f32" } : { kind: "tensor", value: all, dims: [L, 1, H], dtype: "f32", layout: { axis: 2, outer: 1, inner: 1 } });
  }
  if (yhName) {
    // Y_h is [1, N, H] (layout 0) or [N, 1, H] (layout 1).
    imp.set(yhName, batchFirst ? { kind: "tensor", value: h!, dims: [1, H], dtype: "f32" } : { kind: "tensor", value: h!, dims: [1, H], dtype: "f32", layout: { axis: 1, outer: 1, inner: 1 } });
  }
}
