// Expert-parallel execution of one MoE layer on CPU core-group devices:
// outputs equal the float64 mixture (and so the single-device layer) for
// random and adversarial routings; capacity overflow follows its policy;
// replication moves work but not results; a failing device fails only its batch.
import { afterAll, describe, expect, test } from "bun:test";
import { type Device, DeviceError, openDevices } from "../../runtime/devices";
import { ExpertLayer, type ExpertParallelOptions } from "../../runtime/moe/expert-layer";
import { Rng } from "../../runtime/tensor/random";
import { D, OUT, freeNative, nativeF32, randomExperts, referenceMixture, relError, routing } from "./fixtures";

const E = 6;
const experts = randomExperts(E);
const two = openDevices("cpu:2");
const one = openDevices("cpu:1");
afterAll(() => {
  for (const d of [...two, ...one]) d.dispose();
  freeNative();
});

const rng = new Rng(4);
const ROWS = 150;
const x = nativeF32(ROWS * D, () => rng.uniform(-1, 1));

function run(devices: Device[], rows: number, kk: number, idx: Int32Array, vals: Float32Array, options: ExpertParallelOptions = {}, layer?: ExpertLayer) {
  const l = layer ?? new ExpertLayer("moe", experts, D, OUT, devices, options);
  const y = nativeF32(rows * OUT, () => 123); // stale values must be overwritten
  l.run(rows, kk, x, D, idx, vals, y, OUT);
  return { y, layer: l };
}

const randomPick = (kk: number, seed: number) => {
  const r = new Rng(seed);
  const picks: number[][] = [];
  return (i: number, j: number) => {
    if (j === 0) {
      const all = Array.from({ length: E }, (_, e) => e);
      for (let t = E - 1; t > 0; t--) {
        const s = r.int(t + 1);
        [all[t], all[s]] = [all[s]!, all[t]!];
      }
      picks[i] = all.slice(0, kk);
    }
    return picks[i]![j]!;
  };
};

describe("expert-parallel output equals the single-device mixture (fp32, 1e-5 relative)", () => {
  const cases: [string, number, number, (i: number, j: number) => number][] = [
    ["random top-2", ROWS, 2, randomPick(2, 1)],
    ["random top-1, odd batch", 37, 1, randomPick(1, 2)],
    ["every row to expert 3 (top-1)", ROWS, 1, () => 3],
    ["every row to experts 3 and 5 (others empty)", ROWS, 2, (_, j) => (j === 0 ? 3 : 5)],
    ["one row", 1, 2, (_, j) => j],
  ];
  for (const [name, rows, kk, pick] of cases) {
    test(name, () => {
      const { idx, vals } = routing(rows, kk, pick);
      const want = referenceMixture(experts, x, rows, kk, idx, vals);
      const single = run(one, rows, kk, idx, vals);
      const parallel = run(two, rows, kk, idx, vals);
      expect(relError(single.y, want)).toBeLessThan(1e-5);
      expect(relError(parallel.y, want)).toBeLessThan(1e-5);
      expect(relError(parallel.y, single.y)).toBeLessThan(1e-5);
      const s = parallel.layer.stats();
      expect(s.expertLoad.reduce((a, b) => a + b, 0)).toBe(rows * kk);
      expect(s.deviceRows.reduce((a, b) => a + b, 0)).toBe(rows * kk);
      expect(s.dispatchedBytes).toBe(rows * kk * (D + OUT) * 4);
      single.layer.dispose();
      parallel.layer.dispose();
    });
  }
});

describe("capacity", () => {
  // Every row to experts 0 and 1: capacity ⌈0.5 · rows · 2 / 6⌉ = 25 rows per expert replica.
  const rows = ROWS;
  const { idx, vals } = routing(rows, 2, (_, j) => j);
  const C = Math.ceil((0.5 * rows * 2) / E);

  test("drop: rows past an expert's capacity (in row order) contribute nothing", () => {
    const { y, layer } = run(two, rows, 2, idx, vals, { capacityFactor: 0.5, overflow: "drop" });
    expect(relError(y, referenceMixture(experts, x, rows, 2, idx, vals, (i) => i < C))).toBeLessThan(1e-5);
    expect(layer.stats().dropped).toBe(2 * (rows - C));
    layer.dispose();
  });

  test("spill: overflow goes to the expert's replicas while they have room, then drops", () => {
    const layer = new ExpertLayer("moe", experts, D, OUT, two, { capacityFactor: 0.5, overflow: "spill", replicate: { threshold: 0.25 } });
    run(two, rows, 2, idx, vals, {}, layer); // routing statistics: experts 0 and 1 are hot
    const report = layer.replan();
    expect(report.replicated).toEqual([0, 1]);
    const { y } = run(two, rows, 2, idx, vals, {}, layer);
    expect(relError(y, referenceMixture(experts, x, rows, 2, idx, vals, (i) => i < 2 * C))).toBeLessThan(1e-5);
    expect(layer.stats().dropped).toBe(2 * (rows - C) + 2 * (rows - 2 * C));
    layer.dispose();
  });
});

test("replication from routing statistics changes placement and balance, not results", () => {
  // Zipf-like skew: most rows pick expert 0 first.
  const skew = new Rng(7);
  const pick = (i: number, j: number) => (j === 0 ? (skew.next() < 0.7 ? 0 : 1 + skew.int(E - 1)) : 0);
  const { idx, vals } = routing(ROWS, 1, pick);
  const want = referenceMixture(experts, x, ROWS, 1, idx, vals);
  const layer = new ExpertLayer("moe", experts, D, OUT, two, { replicate: { threshold: 0.5 } });
  const before = layer.placement.replicas.map((r) => [...r]);
  const first = run(two, ROWS, 1, idx, vals, {}, layer).y;
  const imbalanceBefore = layer.stats().imbalanceLast;
  const report = layer.replan();
  expect(report.replicated).toContain(0);
  expect(layer.placement.replicas[0]!.length).toBe(2);
  expect(layer.placement.replicas).not.toEqual(before);
  const second = run(two, ROWS, 1, idx, vals, {}, layer).y;
  expect(relError(first, want)).toBeLessThan(1e-5);
  expect(relError(second, want)).toBeLessThan(1e-5);
  expect(layer.stats().imbalanceLast).toBeLessThan(imbalanceBefore);
  expect(layer.stats().imbalanceLast).toBeLessThanOrEqual(1.2);
  expect(layer.stats().replans).toBe(1);
  layer.dispose();
});

test("a device failing a batch fails that batch with a clear error; the next batch runs", () => {
  const { idx, vals } = routing(ROWS, 2, randomPick(2, 5));
  const want = referenceMixture(experts, x, ROWS, 2, idx, vals);
  const layer = new ExpertLayer("moe.layer", experts, D, OUT, two);
  two[1]!.failNextBatch();
  let err: unknown;
  try {
    run(two, ROWS, 2, idx, vals, {}, layer);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DeviceError);
  expect((err as DeviceError).device).toBe("cpu:1");
  expect((err as DeviceError).status).toBe(503);
  expect((err as Error).message).toBe('MoE layer "moe.layer": device cpu:1 failed the batch: command 0 (fail): injected fault');
  const { y } = run(two, ROWS, 2, idx, vals, {}, layer);
  expect(relError(y, want)).toBeLessThan(1e-5);
  expect(layer.stats().failedBatches).toBe(1);
  expect(layer.stats().batches).toBe(1);
  layer.dispose();
});
