// The parallel planner (issue 20, `parallel: "auto"`): a cost model that
// predicts, per batch size, the time of each way to spread a model over G
// device groups of c cores, and picks the fastest.
//
// Inputs are the compiled graph's nodes as costs per row (FLOPs, bytes moved)
// plus the bytes each reads once per batch (its weights), and the devices'
// measured speeds (the FMA peak and read bandwidth probes, per core count).
// One node on c cores takes
//   t(node, B, c) = launch + max(FLOPs·B / peak(c), (weights + bytes·B) / bw(c))
// so a small batch is bound by streaming the weights and a large one by the
// FMAs. The strategies, for a batch of B rows:
//   single     one device with all G·c cores: Σ t(node, B, G·c)
//   replicate  data parallel over the dense chains (runtime/parallel/linear-pairs.ts):
//              each group runs a 1/G share of the batch's rows through its own
//              copy of every chain (whole weights), one sync per chain; the
//              other nodes on all G·c cores
//   tensor     each tensor-parallel group (a linear pair, or one column-split
//              linear) split G ways on c cores (weights and FLOPs / G), plus a
//              pair's reduce of its output and one sync per group; the other
//              nodes on all G·c cores
//   pipeline   the nodes cut into G stages of balanced time, the batch in m
//              microbatches: latency the stages' sum over m plus the fill and
//              drain (+ m syncs); the engine runs one batch at a time through
//              the stages (runtime/parallel/pipeline.ts), so a batch every latency
//   embeddings the pooled lookups sharded table-wise (their time / G on c cores,
//              at worst the largest table), the rest on all G·c cores
//   embedding-columns  every table's columns split G ways (each lookup's bytes / G)
//   embedding-rows     row ranges: balanced like columns, plus routing every id
//              to its shard on the calling thread (~10 ns an id)
//   experts    MoE experts over the groups (their time / G), the rest on G·c
// Each prediction has a latency and a time per batch under load (1 / throughput);
// the pick minimises the time per batch (ties: lower latency), or the latency.
import { RankfnError } from "../errors";

export interface CostNode {
  name: string;
  /** embedding: a pooled lookup; linear: a GEMM (pairable when `pair` is set); moe: an expert layer; other. */
  kind: "embedding" | "linear" | "moe" | "other";
  /** FLOPs per row (a multiply-add counts 2). */
  flopsPerRow: number;
  /** Bytes moved per row (activations in and out, embedding rows read). */
  bytesPerRow: number;
  /** Bytes read once per batch whatever its size (weights). */
  weightBytes: number;
  /** Tensor parallelism: the index of the split group (a pair, or one column-split linear) this node belongs to, and its output width (the reduce's size) when it ends a pair. */
  pair?: number;
  reduceWidth?: number;
  /** Replicate: the index of the dense chain this node belongs to (its rows split over the groups). */
  chain?: number;
  /** A lookup's ids per row (row-wise sharding routes each). */
  idsPerRow?: number;
}

export interface DeviceSpeeds {
  groups: number;
  coresPerGroup: number;
  /** Measured fp32 GFLOP/s with `cores` threads. */
  gflops(cores: number): number;
  /** Measured read GB/s with `cores` threads. */
  bandwidth(cores: number): number;
  /** Fixed cost of one op launch (s). */
  launchSeconds?: number;
  /** Cost of one hand-off between devices (queue, wake, wait; s). */
  syncSeconds?: number;
}

export type Strategy = "single" | "replicate" | "tensor" | "pipeline" | "embeddings" | "embedding-columns" | "embedding-rows" | "experts";

export interface Prediction {
  strategy: Strategy;
  /** Seconds from a batch's start to its scores. */
  latency: number;
  /** Seconds per batch when batches arrive back to back (1 / throughput in batches). */
  perBatch: number;
}

export interface BucketPlan {
  batch: number;
  predictions: Prediction[];
  choice: Strategy;
}

const LAUNCH = 2e-6;
const ROUTE_PER_ID = 10e-9;
// One hand-off to the devices and back (runAll: submit, the devices' condition-variable wake-ups,
// wait), measured at ~55 µs on 2 core groups of a 2-core EPYC whatever the work.
const SYNC = 50e-6;

/** Predicted seconds of node `n` over `rows` rows on `cores` cores (its work split `split` ways). */
export function nodeTime(n: CostNode, rows: number, cores: number, s: DeviceSpeeds, split = 1): number {
  const compute = (n.flopsPerRow * rows) / split / (s.gflops(cores) * 1e9);
  const memory = (n.weightBytes / split + (n.bytesPerRow * rows) / split) / (s.bandwidth(cores) * 1e9);
  return (s.launchSeconds ?? LAUNCH) + Math.max(compute, memory);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Cut `times` (in order) into `stages` contiguous parts minimising the largest part's sum. */
export function balancedStages(times: readonly number[], stages: number): number[] {
  return balancedCut(times, stages).map(([a, b]) => sum(times.slice(a, b)));
}

/** The cut of balancedStages as [first, end) index ranges (at most `stages`, none empty). */
export function balancedCut(times: readonly number[], stages: number): [number, number][] {
  const k = Math.max(1, Math.min(stages, times.length));
  let lo = Math.max(0, ...times), hi = sum([...times]);
  const parts = (limit: number) => {
    const out: [number, number][] = [];
    let acc = 0, first = 0;
    times.forEach((t, i) => {
      if (acc + t > limit && acc > 0) {
        out.push([first, i]);
        acc = 0;
        first = i;
      }
      acc += t;
    });
    out.push([first, times.length]);
    return out;
  };
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (parts(mid).length <= k) hi = mid;
    else lo = mid;
  }
  return parts(hi);
}

/** Predicted latency and time per batch of each strategy that applies to `nodes`, at `batch` rows. */
export function predict(nodes: readonly CostNode[], speeds: DeviceSpeeds, batch: number, microbatches = 4): Prediction[] {
  if (nodes.length === 0) throw new RankfnError("parallel planner: the model has no nodes to place", "bad_option", 400);
  const G = speeds.groups, c = speeds.coresPerGroup, all = G * c;
  const sync = speeds.syncSeconds ?? SYNC;
  const on = (n: CostNode, cores: number, split = 1, rows = batch) => nodeTime(n, rows, cores, speeds, split);
  const out: Prediction[] = [];
  const single = sum(nodes.map((n) => on(n, all)));
  out.push({ strategy: "single", latency: single, perBatch: single });
  if (G < 2) return out;
  const chains = new Set(nodes.flatMap((n) => (n.chain === undefined ? [] : [n.chain])));
  if (chains.size > 0) {
    const share = Math.ceil(batch / G);
    const t = sum(nodes.map((n) => (n.chain === undefined ? on(n, all) : on(n, c, 1, share)))) + chains.size * sync;
    out.push({ strategy: "replicate", latency: t, perBatch: t });
  }
  const pairs = new Set(nodes.flatMap((n) => (n.pair === undefined ? [] : [n.pair])));
  if (pairs.size > 0) {
    const reduce = sum(nodes.map((n) => (n.reduceWidth ? (batch * n.reduceWidth * 4 * G) / (speeds.bandwidth(c) * 1e9) : 0)));
    const t = sum(nodes.map((n) => (n.pair === undefined ? on(n, all) : on(n, c, G)))) + reduce + pairs.size * sync;
    out.push({ strategy: "tensor", latency: t, perBatch: t });
  }
  const m = Math.max(1, Math.min(microbatches, batch));
  const micro = Math.ceil(batch / m);
  const stageTimes = balancedStages(nodes.map((n) => on(n, c, 1, micro) * m), G);
  if (stageTimes.length > 1) {
    const slowest = Math.max(...stageTimes) + m * sync;
    const latency = sum(stageTimes) / m + slowest * (1 - 1 / m) + sync * stageTimes.length;
    out.push({ strategy: "pipeline", latency, perBatch: latency });
  }
  const lookups = nodes.filter((n) => n.kind === "embedding");
  if (lookups.length > 0) {
    const sharded = Math.max(sum(lookups.map((n) => on(n, c))) / G, ...lookups.map((n) => on(n, c)));
    const t = sharded + sum(nodes.filter((n) => n.kind !== "embedding").map((n) => on(n, all))) + sync;
    out.push({ strategy: "embeddings", latency: t, perBatch: t });
    const rest = sum(nodes.filter((n) => n.kind !== "embedding").map((n) => on(n, all)));
    const columns = sum(lookups.map((n) => on(n, c, G))) + rest + sync;
    out.push({ strategy: "embedding-columns", latency: columns, perBatch: columns });
    const routing = sum(lookups.map((n) => (n.idsPerRow ?? 0) * batch * ROUTE_PER_ID));
    out.push({ strategy: "embedding-rows", latency: columns + routing, perBatch: columns + routing });
  }
  const experts = nodes.filter((n) => n.kind === "moe");
  if (experts.length > 0) {
    const t = sum(experts.map((n) => on(n, c, G))) + sum(nodes.filter((n) => n.kind !== "moe").map((n) => on(n, all))) + 2 * experts.length * sync;
    out.push({ strategy: "experts", latency: t, perBatch: t });
  }
  return out;
}

/**
 * What the pick minimises: "throughput" (default), the time per batch under load, ties within 1%
 * going to the lower latency; "latency", a batch's own time, ties going to the higher throughput.
 */
export type Objective = "throughput" | "latency";

export function pick(predictions: readonly Prediction[], objective: Objective = "throughput"): Prediction {
  const [first, second] = objective === "throughput" ? (["perBatch", "latency"] as const) : (["latency", "perBatch"] as const);
  return predictions.reduce((best, p) => (p[first] < best[first] * 0.99 || (p[first] < best[first] * 1.01 && p[second] < best[second]) ? p : best));
}

/** A plan per batch-size bucket: every prediction and the pick. */
export function planBuckets(nodes: readonly CostNode[], speeds: DeviceSpeeds, batches: readonly number[], { microbatches = 4, objective = "throughput" }: { microbatches?: number; objective?: Objective } = {}): BucketPlan[] {
  return batches.map((batch) => {
    const predictions = predict(nodes, speeds, batch, microbatches);
    return { batch, predictions, choice: pick(predictions, objective).strategy };
  });
}
