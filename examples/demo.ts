// `bun run demo`: builds a DLRM-v2-shaped ranking model (MLPerf shape, tables
// scaled to fit a laptop) with seeded weights, ranks one user × 500 candidates
// through the native kernels, and prints the top 10 and the latency.
//
// This composes the kernels by hand; the model engine (graph, compiler,
// loadModel) builds the same network from a model file.
import * as k from "../runtime/ffi";
import { Rng } from "../runtime/tensor/random";
import { type Tensor, columnSlice, tensor } from "../runtime/tensor/tensor";
import { DLRM_V2, scaledTableRows } from "../sdk/zoo/dlrm-v2-shape";

const CANDIDATES = 500;
const TABLE_SCALE = 0.001;
const CROSS_LAYERS = 3;
const CROSS_RANK = 512;
const rng = new Rng(2024);
const D = DLRM_V2.embeddingDim;
const F = DLRM_V2.tableRows.length + 1; // 26 pooled embeddings + the bottom MLP output
const width = F * D; // 3456

function dense(inFeatures: number, outFeatures: number) {
  const scale = Math.sqrt(2 / inFeatures);
  return {
    w: k.PackedWeight.pack(tensor("f32", [outFeatures, inFeatures], rng.floats(outFeatures * inFeatures, -scale, scale))),
    b: tensor("f32", [outFeatures], rng.floats(outFeatures, -0.01, 0.01)),
  };
}

console.log(`building a DLRM-v2-shaped model (tables scaled by ${TABLE_SCALE}) …`);
const t0 = performance.now();
const rows = scaledTableRows(TABLE_SCALE);
const tables = rows.map((r) => tensor("f32", [r, D], rng.floats(r * D, -0.05, 0.05)));
const bottom = [DLRM_V2.denseFeatures, ...DLRM_V2.bottomMlp].slice(0, -1).map((n, i) => dense(n, DLRM_V2.bottomMlp[i]!));
const cross = Array.from({ length: CROSS_LAYERS }, () => ({ v: dense(width, CROSS_RANK).w, u: dense(CROSS_RANK, width) }));
const topSizes = [width, ...DLRM_V2.topMlp];
const top = DLRM_V2.topMlp.map((n, i) => dense(topSizes[i]!, n));
console.log(`  ${rows.reduce((a, b) => a + b)} embedding rows, ${top.length + bottom.length} MLP layers, ${CROSS_LAYERS} cross layers (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

/** One user's request: dense features and multi-hot ids per candidate (user features repeat). */
function makeRequest(n: number) {
  const denseX = tensor("f32", [n, DLRM_V2.denseFeatures], rng.floats(n * DLRM_V2.denseFeatures, 0, 1));
  const bags = rows.map((r, t) => {
    const hot = DLRM_V2.multiHot[t]!;
    const userFeature = t < 8; // the first tables hold user features: the same ids for every candidate
    const userIds = Array.from({ length: hot }, () => rng.int(r));
    const ids = Int32Array.from({ length: n * hot }, (_, i) => (userFeature ? userIds[i % hot]! : rng.int(r)));
    const offsets = BigInt64Array.from({ length: n + 1 }, (_, b) => BigInt(b * hot));
    return { ids: tensor("i32", [ids.length], ids), offsets: tensor("i64", [n + 1], offsets) };
  });
  return { denseX, bags };
}

// Activations, allocated once and reused by every batch.
const features = tensor("f32", [CANDIDATES, width]);
const crossOut = tensor("f32", [CANDIDATES, width]);
const mlpBuffers = [...DLRM_V2.bottomMlp, ...DLRM_V2.topMlp].map((n) => tensor("f32", [CANDIDATES, n]));

function rank(req: ReturnType<typeof makeRequest>): Float32Array {
  // Bottom MLP writes straight into the first D columns of the interaction input.
  let h: Tensor = req.denseX;
  bottom.forEach((layer, i) => {
    const last = i === bottom.length - 1;
    h = k.gemm({ x: h, w: layer.w, bias: layer.b, act: "relu", y: last ? columnSlice(features, 0, D) : mlpBuffers[i]! });
  });
  // All 26 tables in one call, each into its slice of the same buffer.
  k.embeddingBags(tables.map((table, t) => ({ table, ...req.bags[t]!, mode: "sum" as const, out: columnSlice(features, (t + 1) * D, D) })));
  // DCN-v2: x_{l+1} = x0 ⊙ (U·V·x_l + b) + x_l; the first layer reads the features, the rest run in place.
  let x: Tensor = features;
  for (const layer of cross) x = k.crossLayer({ x0: features, x, w: layer.v, u: layer.u.w, bias: layer.u.b, y: crossOut });
  h = x;
  top.forEach((layer, i) => {
    h = k.gemm({ x: h, w: layer.w, bias: layer.b, act: i === top.length - 1 ? "sigmoid" : "relu", y: mlpBuffers[bottom.length + i]! });
  });
  return h.data as Float32Array;
}

const request = makeRequest(CANDIDATES);
const scores = rank(request); // warm-up
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const s = performance.now();
  rank(request);
  times.push(performance.now() - s);
}
times.sort((a, b) => a - b);
const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!);
console.log(`\nranked 1 user × ${CANDIDATES} candidates on ${k.deviceInfo().name}, ${k.numThreads()} threads`);
console.log("top 10:");
for (const c of order.slice(0, 10)) console.log(`  candidate ${String(c).padStart(3)}  score ${scores[c]!.toFixed(6)}`);
const median = times[2]!;
console.log(`latency: ${median.toFixed(1)} ms per request (median of 5), ${((CANDIDATES / median) * 1000).toFixed(0)} candidates/s`);
