// The parallel planner's cost model (runtime/parallel/planner.ts) on synthetic costs and speeds:
// which strategies it predicts, how they move with batch size and device speeds, and its stage cuts.
import { expect, test } from "bun:test";
import { type CostNode, type DeviceSpeeds, balancedStages, pick, planBuckets, predict } from "../../runtime/parallel/planner";

// Two core groups of one core: 40 GFLOP/s per core, read bandwidth 32 GB/s on one core, 48 on two.
const speeds = (groups = 2, scale = 2): DeviceSpeeds => ({ groups, coresPerGroup: 1, gflops: (c) => 40 * (c === 1 ? 1 : scale), bandwidth: (c) => (c === 1 ? 32 : 48) });
const linear = (name: string, n: number, k: number, pair?: number, end = false): CostNode => ({ name, kind: "linear", flopsPerRow: 2 * n * k, bytesPerRow: 4 * (n + k), weightBytes: 4 * n * k, ...(pair === undefined ? {} : { pair, chain: 0 }), ...(end ? { reduceWidth: n } : {}) });
// A DLRM-v2-like top MLP: 3456 -> 1024 -> 1024 -> 512 as two linear pairs, and 26 pooled lookups.
const mlp = [linear("top.0", 1024, 3456, 0), linear("top.1", 1024, 1024, 0, true), linear("top.2", 512, 1024, 1), linear("top.3", 256, 512, 1, true)];
const lookups: CostNode[] = Array.from({ length: 26 }, (_, i) => ({ name: `emb_${i}`, kind: "embedding", flopsPerRow: 0, bytesPerRow: 8 * 128 * 4, weightBytes: 0 }));

test("one device: only the single-device prediction; two: every strategy the model allows", () => {
  expect(predict(mlp, speeds(1), 64).map((p) => p.strategy)).toEqual(["single"]);
  expect(predict(mlp, speeds(), 64).map((p) => p.strategy)).toEqual(["single", "replicate", "tensor", "pipeline"]);
  expect(predict([...lookups, ...mlp], speeds(), 64).map((p) => p.strategy)).toEqual(["single", "replicate", "tensor", "pipeline", "embeddings", "embedding-columns", "embedding-rows"]);
  const moe: CostNode = { name: "moe", kind: "moe", flopsPerRow: 1e6, bytesPerRow: 1e4, weightBytes: 1e7 };
  expect(predict([moe], speeds(), 64).map((p) => p.strategy)).toContain("experts");
  expect(() => predict([], speeds(), 64)).toThrow("the model has no nodes to place");
});

test("small batches are bound by streaming weights: splitting them (tensor) beats one device whose bandwidth does not double", () => {
  const by = Object.fromEntries(predict(mlp, speeds(), 1).map((p) => [p.strategy, p]));
  // single: 22 MB over 48 GB/s; tensor: half the weights per core over 32 GB/s each, plus its syncs.
  expect(by.tensor!.latency).toBeLessThan(by.single!.latency);
  expect(pick(predict(mlp, speeds(), 1), "latency").strategy).toBe("tensor");
  expect(pick(predict(mlp, speeds(), 1)).strategy).toBe("tensor");
  // Replicas split the rows, not the weights: at one row each device streams all of them.
  expect(by.replicate!.latency).toBeGreaterThan(by.single!.latency);
});

test("large compute-bound batches: with perfect thread scaling one device wins; with poor scaling splitting does", () => {
  expect(pick(predict(mlp, speeds(2, 2), 2048)).strategy).toBe("single");
  const plan = planBuckets(mlp, speeds(2, 1.3), [2048]);
  const by = Object.fromEntries(plan[0]!.predictions.map((p) => [p.strategy, p]));
  expect(by.replicate!.perBatch).toBe(by.replicate!.latency);
  expect(by.replicate!.perBatch).toBeLessThan(by.single!.perBatch * 0.8);
  expect(by.tensor!.perBatch).toBeLessThan(by.single!.perBatch * 0.8);
  // Replicas need no reduce and one sync per chain, where tensor needs one per pair.
  expect(plan[0]!.choice).toBe("replicate");
});

test("lookup-heavy models shard their tables when two cores read less than twice one core's bandwidth", () => {
  const model = [...lookups, linear("top.0", 64, 26 * 128)];
  const plan = planBuckets(model, speeds(), [512])[0]!;
  const by = Object.fromEntries(plan.predictions.map((p) => [p.strategy, p]));
  expect(by.embeddings!.latency).toBeLessThan(by.single!.latency);
});

test("pipeline stages: contiguous cuts that minimise the slowest stage", () => {
  expect(balancedStages([1, 1, 1, 1], 2)).toEqual([2, 2]);
  expect(balancedStages([5, 1, 1, 1], 2)).toEqual([5, 3]);
  expect(balancedStages([1, 2, 3, 4, 5], 3).length).toBeLessThanOrEqual(3);
  expect(Math.max(...balancedStages([1, 2, 3, 4, 5], 3))).toBeCloseTo(6, 6);
  expect(balancedStages([7], 4)).toEqual([7]);
});
