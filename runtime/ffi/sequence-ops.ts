// Typed wrappers of the sequence kernels (rankfn.h, "sequence and generative
// ranking"): jagged softmax and HSTU attention, the norm gate, RankMixer's token
// mixing and grouped GEMM. Offsets, candidate counts and shapes are checked here,
// before C (the kernel cannot know how many rows a buffer has).
import { TensorError } from "../errors";
import { type MatrixView, type Tensor, matrixView, vectorData } from "../tensor/tensor";
import { type Activation, activations, enumCode } from "./activations";
import type { Stream } from "./device";
import { outputMatrix } from "./dense-ops";
import { check, native } from "./native";
import type { PackedWeight } from "./weights";

export const seqMasks = ["none", "causal", "falcon"] as const;
/** none, causal (aligned to the end of the kv sequence) or M-FALCON (candidates see the history and themselves). */
export type SeqMask = (typeof seqMasks)[number];

const streamOf = (s?: Stream) => s?.handle ?? null;

/** Relative-position bias: table [heads, numBuckets]; positions default to the token indices. */
export interface RelativeBias {
  table: Tensor;
  qPos?: Tensor;
  kvPos?: Tensor;
}

export interface SeqAttentionArgs {
  /** [totalQ, heads·d] (a column slice of a fused QKV buffer works). */
  q: Tensor;
  /** [totalKv, heads·d]. */
  k: Tensor;
  /** [totalKv, heads·dv]. */
  v: Tensor;
  /** i64 [batch + 1]: item b owns q rows [qOffsets[b], qOffsets[b+1]). */
  qOffsets: Tensor;
  /** i64 [batch + 1]. */
  kvOffsets: Tensor;
  heads: number;
  mask?: SeqMask;
  /** i64 [batch]: candidates at the end of each item's kv (mask "falcon"). */
  numCandidates?: Tensor;
  /** Multiplies q·k (default 1/sqrt(d)). */
  scale?: number;
  rab?: RelativeBias;
  out?: Tensor;
  stream?: Stream;
}

export interface HstuAttentionArgs extends SeqAttentionArgs {
  /** Divide by this length (> 0, e.g. the max sequence length); 0 or omitted: each item's kv length. */
  normLen?: number;
}

function offsetsOf(t: Tensor, name: string, batch: number | undefined, rows: number): BigInt64Array {
  const o = vectorData(t, name, "i64", batch === undefined ? undefined : batch + 1) as BigInt64Array;
  if (o.length < 1) throw new TensorError(`${name}: needs batch + 1 >= 1 entries`, "bad_shape");
  if (o[0]! < 0n) throw new TensorError(`${name}[0] = ${o[0]} is negative`, "bad_offsets");
  for (let b = 1; b < o.length; b++) {
    if (o[b]! < o[b - 1]!) throw new TensorError(`${name}: decreases at ${b} (${o[b - 1]} -> ${o[b]})`, "bad_offsets");
  }
  if (o[o.length - 1]! > BigInt(rows)) throw new TensorError(`${name}: ends at ${o[o.length - 1]}, past the ${rows} rows given`, "bad_offsets");
  return o;
}

function headWidth(m: MatrixView, heads: number, name: string): number {
  if (m.cols % heads !== 0) throw new TensorError(`${name}: ${m.cols} columns do not split into ${heads} heads`, "bad_shape");
  return m.cols / heads;
}

function positions(t: Tensor | undefined, name: string, rows: number): BigInt64Array | null {
  return t ? (vectorData(t, name, "i64", rows) as BigInt64Array) : null;
}

/** Validated native arguments shared by both attention kinds. */
function attentionArgs(a: SeqAttentionArgs, who: string) {
  if (!Number.isSafeInteger(a.heads) || a.heads < 1) throw new TensorError(`${who} heads: must be a positive integer, got ${a.heads}`, "bad_shape");
  const qm = matrixView(a.q, `${who} q`);
  const km = matrixView(a.k, `${who} k`);
  const vm = matrixView(a.v, `${who} v`);
  const d = headWidth(qm, a.heads, `${who} q`);
  if (headWidth(km, a.heads, `${who} k`) !== d) throw new TensorError(`${who} k: head width ${km.cols / a.heads}, q has ${d}`, "bad_shape");
  const dv = headWidth(vm, a.heads, `${who} v`);
  if (vm.rows !== km.rows) throw new TensorError(`${who} v: has ${vm.rows} rows, k has ${km.rows}`, "bad_shape");
  const qo = offsetsOf(a.qOffsets, `${who} qOffsets`, undefined, qm.rows);
  const batch = qo.length - 1;
  const ko = offsetsOf(a.kvOffsets, `${who} kvOffsets`, batch, km.rows);
  const mask = a.mask ?? "none";
  const maskCode = enumCode(seqMasks, mask, `${who} mask`);
  let nc: BigInt64Array | null = null;
  if (mask === "falcon") {
    if (!a.numCandidates) throw new TensorError(`${who} numCandidates: required with the falcon mask`, "missing_field");
    nc = vectorData(a.numCandidates, `${who} numCandidates`, "i64", batch) as BigInt64Array;
    for (let b = 0; b < batch; b++) {
      const nk = ko[b + 1]! - ko[b]!;
      if (nc[b]! < 0n || nc[b]! > nk) throw new TensorError(`${who} numCandidates[${b}] = ${nc[b]} is outside [0, ${nk}] (the item's kv length)`, "out_of_range");
    }
  }
  const scale = a.scale ?? 1 / Math.sqrt(Math.max(d, 1));
  if (!Number.isFinite(scale)) throw new TensorError(`${who} scale: must be finite, got ${scale}`, "bad_value");
  let rab: MatrixView | null = null;
  let qPos: BigInt64Array | null = null;
  let kvPos: BigInt64Array | null = null;
  if (a.rab) {
    rab = matrixView(a.rab.table, `${who} rab table`);
    if (rab.rows !== a.heads || rab.cols < 1 || rab.ld !== rab.cols) {
      throw new TensorError(`${who} rab table: expected a contiguous [${a.heads}, numBuckets >= 1] tensor, got [${rab.rows}, ${rab.cols}]`, "bad_shape");
    }
    if ((a.rab.qPos === undefined) !== (a.rab.kvPos === undefined)) throw new TensorError(`${who} rab: give both qPos and kvPos or neither`, "missing_field");
    qPos = positions(a.rab.qPos, `${who} rab qPos`, qm.rows);
    kvPos = positions(a.rab.kvPos, `${who} rab kvPos`, km.rows);
  }
  const o = outputMatrix(a.out, qm.rows, a.heads * dv, `${who} out`);
  return { qm, km, vm, d, dv, qo, ko, batch, maskCode, nc, scale, rab, qPos, kvPos, o };
}

/** Fused jagged softmax attention (rf_seq_attention); returns out [totalQ, heads·dv]. */
export function seqAttention(args: SeqAttentionArgs): Tensor<"f32"> {
  const a = attentionArgs(args, "seqAttention");
  check(
    native().rf_seq_attention(streamOf(args.stream), a.batch, args.heads, a.d, a.dv, a.qm.data, a.qm.ld, a.qo, a.km.data, a.km.ld, a.vm.data, a.vm.ld, a.ko,
      a.maskCode, a.nc, a.scale, a.rab?.data ?? null, a.rab?.cols ?? 0, a.qPos, a.kvPos, a.o.m.data, a.o.m.ld),
    "rf_seq_attention",
  );
  return a.o.t;
}

/** Fused jagged HSTU pointwise attention, SiLU(scale·q·k + rab) / n · V (rf_hstu_attention). */
export function hstuAttention(args: HstuAttentionArgs): Tensor<"f32"> {
  const a = attentionArgs(args, "hstuAttention");
  const normLen = args.normLen ?? 0;
  if (!Number.isSafeInteger(normLen) || normLen < 0) throw new TensorError(`hstuAttention normLen: must be an integer >= 0, got ${normLen}`, "bad_value");
  check(
    native().rf_hstu_attention(streamOf(args.stream), a.batch, args.heads, a.d, a.dv, a.qm.data, a.qm.ld, a.qo, a.km.data, a.km.ld, a.vm.data, a.vm.ld, a.ko,
      a.maskCode, a.nc, a.scale, a.rab?.data ?? null, a.rab?.cols ?? 0, a.qPos, a.kvPos, normLen, a.o.m.data, a.o.m.ld),
    "rf_hstu_attention",
  );
  return a.o.t;
}

/**
 * rf_seq_attention that also returns each (row, head)'s log-sum-exp (rf_seq_attention_lse), so
 * attention over kv shards merges exactly (attentionMerge): out [totalQ, heads·dv], lse [totalQ, heads].
 */
export function seqAttentionLse(args: SeqAttentionArgs & { lse?: Tensor }): { out: Tensor<"f32">; lse: Tensor<"f32"> } {
  const a = attentionArgs(args, "seqAttentionLse");
  const l = outputMatrix(args.lse, a.qm.rows, args.heads, "seqAttentionLse lse");
  if (l.m.ld !== args.heads) throw new TensorError("seqAttentionLse lse: must be contiguous [rows, heads]", "bad_strides");
  check(
    native().rf_seq_attention_lse(streamOf(args.stream), a.batch, args.heads, a.d, a.dv, a.qm.data, a.qm.ld, a.qo, a.km.data, a.km.ld, a.vm.data, a.vm.ld, a.ko,
      a.maskCode, a.nc, a.scale, a.rab?.data ?? null, a.rab?.cols ?? 0, a.qPos, a.kvPos, a.o.m.data, a.o.m.ld, l.m.data),
    "rf_seq_attention_lse",
  );
  return { out: a.o.t, lse: l.t };
}

export interface AttentionMergeArgs {
  /** Per kv shard, its attention output [rows, heads·dv] (every part the same shape). */
  parts: readonly Tensor[];
  /** Per part, its lse [rows, heads] (softmax, seqAttentionLse); omitted: a plain sum (HSTU with the global normLen). */
  lse?: readonly Tensor[];
  heads: number;
  out?: Tensor;
  stream?: Stream;
}

/** Merge the attention outputs of kv shards (rf_attention_merge): log-sum-exp rescaling for softmax, a sum for HSTU. */
export function attentionMerge({ parts, lse, heads, out, stream }: AttentionMergeArgs): Tensor<"f32"> {
  if (parts.length < 1) throw new TensorError("attentionMerge parts: needs at least one part", "bad_shape");
  if (!Number.isSafeInteger(heads) || heads < 1) throw new TensorError(`attentionMerge heads: must be a positive integer, got ${heads}`, "bad_shape");
  const views = parts.map((p, i) => matrixView(p, `attentionMerge parts[${i}]`));
  const { rows, cols } = views[0]!;
  views.forEach((v, i) => {
    if (v.rows !== rows || v.cols !== cols) throw new TensorError(`attentionMerge parts[${i}]: is [${v.rows}, ${v.cols}], parts[0] is [${rows}, ${cols}]`, "bad_shape");
  });
  const dv = headWidth(views[0]!, heads, "attentionMerge parts[0]");
  if (lse && lse.length !== parts.length) throw new TensorError(`attentionMerge lse: ${lse.length} tensors for ${parts.length} parts`, "bad_shape");
  const lv = lse?.map((t, i) => matrixView(t, `attentionMerge lse[${i}]`));
  lv?.forEach((v, i) => {
    if (v.rows !== rows || v.cols !== heads) throw new TensorError(`attentionMerge lse[${i}]: expected [${rows}, ${heads}], got [${v.rows}, ${v.cols}]`, "bad_shape");
  });
  // The kernel reads parts at a fixed stride: stack them (a copy per part, O(rows·heads·dv)).
  const stacked = new Float32Array(parts.length * rows * cols);
  views.forEach((v, p) => {
    for (let r = 0; r < rows; r++) stacked.set((v.data as Float32Array).subarray(r * v.ld, r * v.ld + cols), (p * rows + r) * cols);
  });
  const stackedLse = lv ? new Float32Array(parts.length * rows * heads) : null;
  lv?.forEach((v, p) => {
    for (let r = 0; r < rows; r++) stackedLse!.set((v.data as Float32Array).subarray(r * v.ld, r * v.ld + heads), (p * rows + r) * heads);
  });
  const o = outputMatrix(out, rows, cols, "attentionMerge out");
  check(native().rf_attention_merge(streamOf(stream), parts.length, rows, heads, dv, stacked, cols, rows * cols, stackedLse, rows * heads, o.m.data, o.m.ld), "rf_attention_merge");
  return o.t;
}

export interface NormGateArgs {
  x: Tensor;
  u: Tensor;
  gamma?: Tensor;
  beta?: Tensor;
  eps?: number;
  y?: Tensor;
  stream?: Stream;
}

/** y = LayerNorm(x) ⊙ u per row (HSTU's gate, rf_norm_gate). */
export function normGate({ x, u, gamma, beta, eps = 1e-5, y, stream }: NormGateArgs): Tensor<"f32"> {
  const xm = matrixView(x, "normGate x");
  const um = matrixView(u, "normGate u");
  if (um.rows !== xm.rows || um.cols !== xm.cols) throw new TensorError(`normGate u: expected shape [${xm.rows}, ${xm.cols}], got [${um.rows}, ${um.cols}]`, "bad_shape");
  const g = gamma ? vectorData(gamma, "normGate gamma", "f32", xm.cols) : null;
  const b = beta ? vectorData(beta, "normGate beta", "f32", xm.cols) : null;
  if (!Number.isFinite(eps) || eps < 0) throw new TensorError(`normGate eps: must be finite and >= 0, got ${eps}`, "bad_value");
  const o = outputMatrix(y, xm.rows, xm.cols, "normGate y");
  check(native().rf_norm_gate(streamOf(stream), xm.rows, xm.cols, xm.data, xm.ld, um.data, um.ld, g, b, eps, o.m.data, o.m.ld), "rf_norm_gate");
  return o.t;
}

export interface TokenMixArgs {
  /** [m, tokens·dim]: each row is one sample's tokens, concatenated. */
  x: Tensor;
  tokens: number;
  heads: number;
  y?: Tensor;
  stream?: Stream;
}

/** RankMixer token mixing (rf_token_mix): output token h = head h of every token, concatenated. */
export function tokenMix({ x, tokens, heads, y, stream }: TokenMixArgs): Tensor<"f32"> {
  const xm = matrixView(x, "tokenMix x");
  if (!Number.isSafeInteger(tokens) || tokens < 1 || xm.cols % tokens !== 0) throw new TensorError(`tokenMix tokens: ${tokens} does not divide the ${xm.cols} columns`, "bad_shape");
  const D = xm.cols / tokens;
  if (!Number.isSafeInteger(heads) || heads < 1 || D % heads !== 0) throw new TensorError(`tokenMix heads: ${heads} does not divide the token dim ${D}`, "bad_shape");
  const o = outputMatrix(y, xm.rows, xm.cols, "tokenMix y");
  if (o.m.data.buffer === xm.data.buffer) throw new TensorError("tokenMix y: must not share memory with x", "aliasing");
  check(native().rf_token_mix(streamOf(stream), xm.rows, tokens, D, heads, xm.data, xm.ld, o.m.data, o.m.ld), "rf_token_mix");
  return o.t;
}

export interface GroupedGemmArgs {
  /** [m, groups·k]: group g reads columns [g·k, (g+1)·k) (token-interleaved rows). */
  x: Tensor;
  /** One packed weight [n, k] per group. */
  w: readonly PackedWeight[];
  /** [groups·n] (group g's bias at g·n), optional. */
  bias?: Tensor;
  act?: Activation;
  y?: Tensor;
  stream?: Stream;
}

/** Per-group GEMM (RankMixer's per-token FFNs, rf_grouped_gemm): y[:, g] = act(x[:, g] · w[g]ᵀ + bias[g]); y [m, groups·n]. */
export function groupedGemm({ x, w, bias, act = "none", y, stream }: GroupedGemmArgs): Tensor<"f32"> {
  if (w.length < 1) throw new TensorError("groupedGemm w: needs at least one weight", "bad_shape");
  const { n, k } = w[0]!;
  w.forEach((wg, g) => {
    if (wg.n !== n || wg.k !== k) throw new TensorError(`groupedGemm w[${g}]: is [${wg.n}, ${wg.k}], w[0] is [${n}, ${k}]`, "bad_shape");
  });
  const groups = w.length;
  const xm = matrixView(x, "groupedGemm x");
  if (xm.cols !== groups * k) throw new TensorError(`groupedGemm x: expected ${groups} groups × k = ${k} = ${groups * k} columns, got ${xm.cols}`, "bad_shape");
  const b = bias ? vectorData(bias, "groupedGemm bias", "f32", groups * n) : null;
  const code = enumCode(activations, act, "groupedGemm act");
  const o = outputMatrix(y, xm.rows, groups * n, "groupedGemm y");
  const handles = BigUint64Array.from(w, (wg) => BigInt(wg.handle));
  check(native().rf_grouped_gemm(streamOf(stream), groups, xm.rows, xm.data, xm.ld, k, handles, b, n, code, o.m.data, o.m.ld, n), "rf_grouped_gemm");
  return o.t;
}
