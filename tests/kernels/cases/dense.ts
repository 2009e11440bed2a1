// Parity cases of the dense kernels: GEMM (fp32/bf16/int8 × every epilogue),
// DCN cross, interaction, norms, softmax, top-k, elementwise.
import * as k from "../../../runtime/ffi";
import { dequantizeInt8PerChannel, fromBf16, quantizeInt8PerChannel, toBf16 } from "../../../runtime/tensor/quantize";
import { Rng } from "../../../runtime/tensor/random";
import { type Tensor, tensor } from "../../../runtime/tensor/tensor";
import * as ref from "../reference";
import { type ParityCase, tolerance } from "../parity";

const acts = k.activations;

/** A packed weight plus the fp32 values the reference must use (dequantized). */
function weight(dtype: "f32" | "bf16" | "i8", n: number, kk: number, rng: Rng): { w: k.PackedWeight; values: Float32Array } {
  const raw = rng.floats(n * kk, -0.5, 0.5);
  if (dtype === "f32") return { w: k.PackedWeight.pack(tensor("f32", [n, kk], raw)), values: raw };
  if (dtype === "bf16") {
    const bits = toBf16(raw);
    return { w: k.PackedWeight.pack(tensor("bf16", [n, kk], bits)), values: fromBf16(bits) };
  }
  const { q, scales } = quantizeInt8PerChannel(raw, n, kk);
  return { w: k.PackedWeight.pack(tensor("i8", [n, kk], q), tensor("f32", [n], scales)), values: dequantizeInt8PerChannel(q, scales, n, kk) };
}

function gemmCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  // Past 8 rows with n <= 16 (ranking heads, gates, towers): the narrow fp32 path, one and two vectors, full and partial row groups.
  // m = 301: several row blocks of every blocked driver (AVX2 widened bf16/int8 panels: 288 rows), the last tile one row;
  // m = 601: past 576 rows AVX2 widens the whole bf16/int8 weight once (a buffer of the caller) and runs 96-row blocks.
  // m = 5..8: the AVX2 direct kernels past one 4-row group (bf16: each 64-k chunk of a panel widened once, k = 130 and 1100 ending in a partial chunk).
  const shapes: [number, number, number][] = [[5, 40, 33], [6, 33, 17], [7, 35, 130], [8, 70, 1100], [1, 1, 1], [1, 33, 17], [3, 16, 64], [17, 31, 130], [64, 48, 96], [0, 5, 7], [33, 70, 1], [29, 70, 1100], [9, 1, 37], [34, 8, 72], [13, 5, 200], [10, 3, 1], [22, 16, 40], [11, 9, 19], [301, 40, 24], [601, 70, 13]];
  for (const dtype of ["f32", "bf16", "i8"] as const) {
    for (const [m, n, kk] of shapes) {
      // A long k (DLRM-v2 cross and top layers have k = 3456) for fp32/bf16; int8 activation quantisation error on uniform random rows grows past the tolerance there.
      if (dtype === "i8" && kk > 1024) continue;
      acts.forEach((act, ai) => {
        const rng = new Rng(m * 1000 + n * 10 + kk + ai);
        const withBias = ai % 2 === 0;
        const withResidual = ai % 3 !== 1;
        const { w, values } = weight(dtype, n, kk, rng);
        const x = tensor("f32", [m, kk], rng.floats(m * kk));
        const bias = withBias ? tensor("f32", [n], rng.floats(n)) : undefined;
        const residual = withResidual ? tensor("f32", [m, n], rng.floats(m * n)) : undefined;
        cases.push({
          op: "gemm",
          dtype,
          label: `m=${m} n=${n} k=${kk} act=${act}${withBias ? " +bias" : ""}${withResidual ? " +residual" : ""}`,
          tol: tolerance[dtype],
          run: () => [k.gemm({ x, w, bias, act, residual }).data as Float32Array],
          expected: () => [ref.gemmRef(x.data as Float32Array, m, kk, values, n, (bias?.data as Float32Array) ?? null, act, (residual?.data as Float32Array) ?? null)],
        });
      });
    }
  }
  // int8 over a long k (DLRM-v2 layers have k = 3456: int32 sums over thousands of quads),
  // on non-negative rows (post-ReLU activations, the common input of a quantised layer).
  {
    const rng = new Rng(2100);
    const { w, values } = weight("i8", 40, 2100, rng);
    const x = tensor("f32", [13, 2100], rng.floats(13 * 2100, 0, 1));
    const bias = tensor("f32", [40], rng.floats(40));
    cases.push({
      op: "gemm",
      dtype: "i8",
      label: "m=13 n=40 k=2100 act=none +bias, x >= 0",
      tol: tolerance.i8,
      run: () => [k.gemm({ x, w, bias }).data as Float32Array],
      expected: () => [ref.gemmRef(x.data as Float32Array, 13, 2100, values, 40, bias.data as Float32Array, "none", null)],
    });
  }
  // int8 saturation trap: rows of x at their maximum quantise to u8 255 and weights sit at
  // 127 / -128, so every u8 x s8 pair sum is ±64,770 / −65,280: a path that sums pairs into
  // int16 (vpmaddubsw without VNNI) clips them at ±32,767 and is off by about half. On AVX2
  // m = 1, 3 and 13 run the small-M kernels, m = 30 the blocked int8 GEMM; k = 2100 keeps sums long.
  for (const m of [1, 3, 13, 30]) {
    const n = 40;
    const kk = 2100;
    const rng = new Rng(4242 + m);
    const q = new Int8Array(n * kk);
    for (let j = 0; j < n; j++) {
      for (let l = 0; l < kk; l++) {
        const pattern = j % 4;
        q[j * kk + l] = pattern === 0 ? 127 : pattern === 1 ? -128 : pattern === 2 ? (l % 2 ? 127 : -128) : rng.int(256) - 128;
      }
    }
    const scales = Float32Array.from({ length: n }, (_, j) => 0.001 + 0.0005 * (j % 5));
    const w = k.PackedWeight.pack(tensor("i8", [n, kk], q), tensor("f32", [n], scales));
    const values = dequantizeInt8PerChannel(q, scales, n, kk);
    // Rows: all 1 (u8 255 everywhere), all −1, ±1 alternating, all 1 but one −0.25.
    const x = new Float32Array(m * kk);
    for (let i = 0; i < m; i++) for (let l = 0; l < kk; l++) x[i * kk + l] = [1, -1, l % 2 ? 1 : -1, l === 7 ? -0.25 : 1][i % 4]!;
    const xt = tensor("f32", [m, kk], x);
    cases.push({
      op: "gemm",
      dtype: "i8",
      label: `m=${m} n=${n} k=${kk} adversarial int8 (x at u8 255, weights 127 / -128)`,
      tol: tolerance.i8,
      run: () => [k.gemm({ x: xt, w }).data as Float32Array],
      expected: () => [ref.gemmRef(x, m, kk, values, n, null, "none", null)],
    });
  }
  // int8 weights with 16-bit activations (rf_weight_set_act_bits(w, 16)): X rounded to int16 levels
  // L = floor(2^31 / (128 kp)) - 1, so at k = 4100 (L = 4091) rows at their maximum against weights
  // of 127 / -128 bring the int32 sums to 2^31 - 1 minus a margin: a larger L (or u8's 255 on a path
  // that ignored the bits) is off by wrap-around or by ~4e-3 of the range, both above the tolerance.
  // m = 1, 7: one partial 6-row tile (AVX-512 vpdpwssd) or the AVX2 small-M kernels; m = 30: five tiles.
  for (const [m, adversarial] of [[1, false], [7, true], [30, false], [30, true]] as const) {
    const n = 40;
    const kk = 4100;
    const rng = new Rng(777 + m + (adversarial ? 1 : 0));
    const q = new Int8Array(n * kk);
    for (let j = 0; j < n; j++) for (let l = 0; l < kk; l++) q[j * kk + l] = adversarial ? (j % 2 ? 127 : -128) : rng.int(256) - 128;
    const scales = Float32Array.from({ length: n }, (_, j) => 0.002 + 0.0003 * (j % 7));
    const w = k.PackedWeight.pack(tensor("i8", [n, kk], q), tensor("f32", [n], scales));
    w.setActivationBits(16);
    const values = dequantizeInt8PerChannel(q, scales, n, kk);
    const x = adversarial ? new Float32Array(m * kk).fill(1) : rng.floats(m * kk);
    const xt = tensor("f32", [m, kk], x);
    cases.push({
      op: "gemm",
      dtype: "i8",
      label: `m=${m} n=${n} k=${kk} int8 weights, 16-bit activations${adversarial ? " (x at level L, weights 127 / -128)" : ""}`,
      tol: tolerance.i8w16,
      run: () => [k.gemm({ x: xt, w }).data as Float32Array],
      expected: () => [ref.gemmRef(x, m, kk, values, n, null, "none", null)],
    });
  }
  // int8 activation groups (rf_weight_set_act_groups): each row quantized per group of columns.
  // Odd shapes: k not a multiple of 4 (a 2-column last group), m = 1 (small-M path: groups ignored),
  // groups of 256 over a long k, and two segments whose ranges differ 1000× (a bottom-MLP output
  // next to pooled embeddings) with the wide segment's weights 0: the output is all the narrow
  // segment's, which one range per row would quantize to nothing (normalised error ~1 on u8 paths).
  const groupShapes: [number, number, number, number[], number][] = [
    [30, 33, 130, [0, 64, 128, 130], 1],
    [1, 17, 37, [0, 12, 37], 1],
    [64, 48, 96, [0, 4, 96], 1],
    [29, 40, 1100, [0, 256, 512, 768, 1024, 1100], 1],
    [37, 24, 200, [0, 72, 200], 1000],
  ];
  for (const [m, n, kk, bounds, spread] of groupShapes) {
    const rng = new Rng(m * 7 + kk);
    const raw = rng.floats(n * kk, -0.5, 0.5);
    if (spread > 1) for (let j = 0; j < n; j++) raw.fill(0, j * kk, j * kk + bounds[1]!);
    const { q, scales } = quantizeInt8PerChannel(raw, n, kk);
    const w = k.PackedWeight.pack(tensor("i8", [n, kk], q), tensor("f32", [n], scales));
    const values = dequantizeInt8PerChannel(q, scales, n, kk);
    w.setActivationGroups(bounds);
    const x = rng.floats(m * kk);
    // The first group's values are `spread` times the others'.
    for (let i = 0; i < m; i++) for (let l = 0; l < bounds[1]!; l++) x[i * kk + l]! *= spread;
    const xt = tensor("f32", [m, kk], x);
    const bias = tensor("f32", [n], rng.floats(n));
    cases.push({
      op: "gemm",
      dtype: "i8",
      label: `m=${m} n=${n} k=${kk} activation groups [${bounds.join(", ")}]${spread > 1 ? `, first group ${spread}× the rest` : ""} +bias relu`,
      tol: tolerance.i8,
      run: () => [k.gemm({ x: xt, w, bias, act: "relu" }).data as Float32Array],
      expected: () => [ref.gemmRef(x, m, kk, values, n, bias.data as Float32Array, "relu", null)],
    });
    // The same groups with 16-bit activations (the AVX-512 vpdpwssd tile's group loop).
    const w16 = k.PackedWeight.pack(tensor("i8", [n, kk], q), tensor("f32", [n], scales));
    w16.setActivationGroups(bounds);
    w16.setActivationBits(16);
    cases.push({
      op: "gemm",
      dtype: "i8",
      label: `m=${m} n=${n} k=${kk} activation groups [${bounds.join(", ")}], 16-bit activations${spread > 1 ? `, first group ${spread}× the rest` : ""} +bias relu`,
      tol: tolerance.i8w16,
      run: () => [k.gemm({ x: xt, w: w16, bias, act: "relu" }).data as Float32Array],
      expected: () => [ref.gemmRef(x, m, kk, values, n, bias.data as Float32Array, "relu", null)],
    });
  }
  // Strided x / y (column slices of wider buffers) and residual aliasing y.
  {
    const rng = new Rng(7);
    const { w, values } = weight("f32", 24, 40, rng);
    const wide = rng.floats(9 * 50);
    const x: Tensor = { dtype: "f32", shape: [9, 40], strides: [50, 1], data: wide.subarray(5) };
    const yBuf = rng.floats(9 * 30);
    const xDense = new Float32Array(9 * 40);
    for (let i = 0; i < 9; i++) xDense.set(wide.subarray(i * 50 + 5, i * 50 + 45), i * 40);
    const resid = new Float32Array(9 * 24);
    for (let i = 0; i < 9; i++) resid.set(yBuf.subarray(i * 30 + 3, i * 30 + 27), i * 24);
    cases.push({
      op: "gemm",
      dtype: "f32",
      label: "strided x and y, residual aliasing y",
      tol: tolerance.f32,
      run: () => {
        const yb = yBuf.slice();
        const y: Tensor = { dtype: "f32", shape: [9, 24], strides: [30, 1], data: yb.subarray(3) };
        k.gemm({ x, w, act: "relu", residual: y, y });
        const out = new Float32Array(9 * 24);
        for (let i = 0; i < 9; i++) out.set(yb.subarray(i * 30 + 3, i * 30 + 27), i * 24);
        return [out];
      },
      expected: () => [ref.gemmRef(xDense, 9, 40, values, 24, null, "relu", resid)],
    });
  }
  return cases;
}

function crossCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const [m, d, r] of [[1, 1, 0], [7, 13, 0], [5, 64, 0], [1, 13, 1], [9, 33, 8], [4, 64, 16]] as const) {
    const rng = new Rng(m * 100 + d + r);
    const x0 = tensor("f32", [m, d], rng.floats(m * d));
    const x = tensor("f32", [m, d], rng.floats(m * d));
    const bias = tensor("f32", [d], rng.floats(d));
    const low = r > 0;
    const wv = weight("f32", low ? r : d, d, rng);
    const uv = low ? weight("f32", d, r, rng) : null;
    cases.push({
      op: "cross",
      dtype: "f32",
      label: `m=${m} d=${d} ${low ? `low rank ${r}` : "full rank"}`,
      tol: tolerance.f32,
      run: () => [k.crossLayer({ x0, x, w: wv.w, u: uv?.w, bias }).data as Float32Array],
      expected: () => [ref.crossRef(x0.data as Float32Array, x.data as Float32Array, m, d, wv.values, uv ? { data: uv.values, r } : null, bias.data as Float32Array)],
    });
  }
  return cases;
}

function rowOpCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const [m, f, d] of [[1, 1, 1], [3, 2, 3], [5, 5, 16], [4, 27, 33], [2, 27, 128]] as const) {
    for (const [concatDense, self] of [[false, false], [true, false], [false, true]] as const) {
      const x = tensor("f32", [m, f * d], new Rng(m + f + d).floats(m * f * d));
      cases.push({
        op: "dot_interaction",
        dtype: "f32",
        label: `m=${m} f=${f} d=${d}${concatDense ? " +dense" : ""}${self ? " +self" : ""}`,
        tol: tolerance.f32,
        run: () => [k.dotInteraction({ x, f, d, concatDense, selfInteraction: self }).data as Float32Array],
        expected: () => [ref.interactionRef(x.data as Float32Array, m, f, d, concatDense, self)],
      });
    }
  }
  // The GRU recurrence: h of one unit, odd and vector-width-crossing h, a single step, with and without biases.
  for (const [m, steps, h] of [[1, 1, 1], [3, 5, 3], [7, 4, 16], [2, 6, 19]] as const) {
    for (const lbr of [false, true]) {
      const rng = new Rng(m * 100 + steps * 10 + h + (lbr ? 7 : 0));
      const gx = tensor("f32", [m, steps * 3 * h], rng.floats(m * steps * 3 * h, -2, 2));
      const rt = tensor("f32", [h, 3 * h], rng.floats(3 * h * h, -0.6, 0.6));
      const rb = h === 3 ? undefined : tensor("f32", [3 * h], rng.floats(3 * h, -0.5, 0.5));
      // Odd h also starts from a given state, and the linear-before-reset cases run in reverse.
      const h0 = h % 2 === 1 ? tensor("f32", [m, h], rng.floats(m * h, -1, 1)) : undefined;
      cases.push({
        op: "gru_sequence",
        dtype: "f32",
        label: `m=${m} steps=${steps} h=${h}${lbr ? " linear-before-reset reverse" : ""}${rb ? "" : " no bias"}${h0 ? " h0" : ""}`,
        tol: tolerance.f32,
        run: () => [k.gruSequence({ gx, steps, h, rt, rb, h0, linearBeforeReset: lbr, reverse: lbr }).data as Float32Array],
        expected: () => [ref.gruRef(gx.data as Float32Array, m, steps, h, rt.data as Float32Array, rb ? (rb.data as Float32Array) : null, lbr, h0 ? (h0.data as Float32Array) : null, lbr)],
      });
    }
  }
  for (const n of [1, 3, 17, 128, 130]) {
    const m = 6;
    const rng = new Rng(n);
    const x = tensor("f32", [m, n], rng.floats(m * n, -3, 3));
    const gamma = tensor("f32", [n], rng.floats(n));
    const beta = tensor("f32", [n], rng.floats(n));
    cases.push(
      { op: "layer_norm", dtype: "f32", label: `n=${n} affine`, tol: tolerance.f32, run: () => [k.layerNorm({ x, gamma, beta, eps: 1e-5 }).data as Float32Array], expected: () => [ref.layerNormRef(x.data as Float32Array, m, n, gamma.data as Float32Array, beta.data as Float32Array, 1e-5)] },
      { op: "layer_norm", dtype: "f32", label: `n=${n} plain`, tol: tolerance.f32, run: () => [k.layerNorm({ x, eps: 1e-3 }).data as Float32Array], expected: () => [ref.layerNormRef(x.data as Float32Array, m, n, null, null, 1e-3)] },
      { op: "rms_norm", dtype: "f32", label: `n=${n} gamma`, tol: tolerance.f32, run: () => [k.rmsNorm({ x, gamma, eps: 1e-6 }).data as Float32Array], expected: () => [ref.rmsNormRef(x.data as Float32Array, m, n, gamma.data as Float32Array, 1e-6)] },
      { op: "rms_norm", dtype: "f32", label: `n=${n} plain`, tol: tolerance.f32, run: () => [k.rmsNorm({ x }).data as Float32Array], expected: () => [ref.rmsNormRef(x.data as Float32Array, m, n, null, 1e-6)] },
    );
    const big = tensor("f32", [m, n], rng.floats(m * n, -80, 80));
    cases.push(
      { op: "softmax", dtype: "f32", label: `n=${n}`, tol: tolerance.f32, run: () => [k.softmax({ x }).data as Float32Array], expected: () => [ref.softmaxRef(x.data as Float32Array, m, n)] },
      { op: "softmax", dtype: "f32", label: `n=${n} large logits`, tol: tolerance.f32, run: () => [k.softmax({ x: big }).data as Float32Array], expected: () => [ref.softmaxRef(big.data as Float32Array, m, n)] },
    );
    // Ties (values on a coarse grid) and NaNs exercise the ordering rules.
    const tied = Float32Array.from(rng.floats(m * n), (v, i) => (i % 11 === 5 ? NaN : Math.round(v * 3) / 3));
    for (const kk of new Set([1, Math.ceil(n / 2), n])) {
      const xt = tensor("f32", [m, n], tied);
      cases.push({
        op: "topk",
        dtype: "f32",
        label: `n=${n} k=${kk} with ties and NaN`,
        tol: 0,
        run: () => {
          const r = k.topk({ x: xt, k: kk });
          return [r.values.data as Float32Array, r.indices.data as Int32Array];
        },
        expected: () => {
          const r = ref.topkRef(tied, m, n, kk);
          return [r.values, r.indices];
        },
      });
    }
  }
  return cases;
}

function elementwiseCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const [m, n] of [[1, 1], [3, 17], [9, 130]] as const) {
    const rng = new Rng(m * n);
    const a = tensor("f32", [m, n], rng.floats(m * n, -4, 4));
    const b = tensor("f32", [m, n], rng.floats(m * n, 0.5, 2));
    const row = tensor("f32", [1, n], rng.floats(n, 0.5, 2));
    for (const op of k.binaryOps) {
      for (const [bt, label] of [[b, "full"], [row, "row broadcast"]] as const) {
        cases.push({
          op: "binary",
          dtype: "f32",
          label: `${op} ${m}x${n} ${label}`,
          tol: tolerance.f32,
          run: () => [k.binary({ op, a, b: bt }).data as Float32Array],
          expected: () => [Float64Array.from({ length: m * n }, (_, i) => ref.binaryRef(op, a.data[i] as number, bt.data[bt.shape[0] === 1 ? i % n : i] as number))],
        });
      }
    }
    for (const act of acts) {
      cases.push({
        op: "activation",
        dtype: "f32",
        label: `${act} ${m}x${n}`,
        tol: tolerance.f32,
        run: () => [k.activation({ act, x: a }).data as Float32Array],
        expected: () => [Float64Array.from(a.data as Float32Array, (v) => ref.act(act, v))],
      });
    }
  }
  return cases;
}

function attentionCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const [n, T, d, h, requests] of [[1, 1, 1, 1, 1], [5, 3, 7, 17, 2], [9, 11, 16, 32, 3], [4, 50, 32, 80, 1], [3, 9, 5, 0, 2]] as const) {
    for (const act of ["sigmoid", "relu"] as const) {
      const rng = new Rng(n * 31 + T + d + h);
      const data = {
        n, T, d, h,
        q: rng.floats(n * d), keys: rng.floats(requests * T * d),
        // Some steps masked (0), some weighted.
        mask: Float32Array.from({ length: requests * T }, (_, i) => (i % 4 === 1 ? 0 : i % 4 === 2 ? 0.5 : 1)),
        req: Int32Array.from({ length: n }, (_, i) => i % requests),
        qp: rng.floats(n * h), kp: rng.floats(requests * T * h), wqk: rng.floats(h * d), w2: rng.floats(h), b2: 0.25,
      };
      cases.push({
        op: "target_attention",
        dtype: "f32",
        label: `n=${n} T=${T} d=${d} h=${h} requests=${requests} ${act}`,
        tol: tolerance.f32,
        run: () => [
          k.targetAttention({
            q: tensor("f32", [n, d], data.q), keys: tensor("f32", [requests, T * d], data.keys), mask: tensor("f32", [requests, T], data.mask),
            requestOfRow: tensor("i32", [n], data.req), qp: tensor("f32", [n, h], data.qp), kp: tensor("f32", [requests * T, h], data.kp),
            wqk: tensor("f32", [h, d], data.wqk), w2: tensor("f32", [h], data.w2), b2: data.b2, act,
          }).data,
        ],
        expected: () => [ref.targetAttentionRef(data, act)],
      });
    }
  }
  return cases;
}

export function denseCases(): ParityCase[] {
  return [...gemmCases(), ...crossCases(), ...rowOpCases(), ...elementwiseCases(), ...attentionCases()];
}
