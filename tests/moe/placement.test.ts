// The placement contract, run by every strategy: each expert on ≥ 1 device,
// replicas on distinct devices, memory budgets respected, deterministic;
// then what only `greedy` promises (balance, hot-expert replicas) and the
// dispatch of a batch over a placement.
import { describe, expect, test } from "bun:test";
import { dispatch } from "../../runtime/moe/dispatch";
import { type PlacementInput, greedy, imbalance, placementReport, placementStrategies } from "../../runtime/moe/placement";
import { Rng } from "../../runtime/tensor/random";

const zipf = (n: number, s: number) => Array.from({ length: n }, (_, i) => 1000 / (i + 1) ** s);

const inputs: [string, PlacementInput][] = [
  ["uniform, 16 experts, 2 devices", { experts: Array.from({ length: 16 }, () => ({ bytes: 100, load: 1 })), devices: [{ memoryBytes: 1e9, speed: 1 }, { memoryBytes: 1e9, speed: 1 }] }],
  ["Zipf loads, 3 devices, replication", { experts: zipf(16, 1.2).map((load) => ({ bytes: 100, load })), devices: [1, 1, 2].map((speed) => ({ memoryBytes: 1e9, speed })), replicate: { threshold: 0.25 } }],
  ["tight memory", { experts: [300, 200, 200, 100].map((bytes) => ({ bytes, load: 1 })), devices: [{ memoryBytes: 400, speed: 1 }, { memoryBytes: 400, speed: 1 }] }],
  ["more devices than experts", { experts: [{ bytes: 1, load: 5 }, { bytes: 1, load: 1 }], devices: Array.from({ length: 4 }, () => ({ memoryBytes: 10, speed: 1 })) }],
];

for (const [name, strategy] of Object.entries(placementStrategies)) {
  describe(`placement contract: ${name}`, () => {
    for (const [label, input] of inputs) {
      test(label, () => {
        const p = strategy(input);
        expect(p.replicas.length).toBe(input.experts.length);
        const used = input.devices.map(() => 0);
        p.replicas.forEach((ds, e) => {
          expect(ds.length).toBeGreaterThanOrEqual(1);
          expect(new Set(ds).size).toBe(ds.length);
          for (const d of ds) {
            expect(d).toBeGreaterThanOrEqual(0);
            expect(d).toBeLessThan(input.devices.length);
            used[d]! += input.experts[e]!.bytes;
          }
        });
        used.forEach((b, d) => expect(b).toBeLessThanOrEqual(input.devices[d]!.memoryBytes));
        expect(strategy(input)).toEqual(p);
      });
    }
    test("an expert that fits nowhere is an error naming it", () => {
      expect(() => strategy({ experts: [{ bytes: 10, load: 1 }, { bytes: 500, load: 1 }], devices: [{ memoryBytes: 100, speed: 1 }] })).toThrow("placement: expert 1 (500 bytes) fits on none of the 1 devices' remaining memory");
    });
  });
}

describe("greedy", () => {
  test("balances expected load within 10% on Zipf loads without replication, and within 5% with it", () => {
    const experts = zipf(16, 1.0).map((load) => ({ bytes: 100, load }));
    const devices = [{ memoryBytes: 1e9, speed: 1 }, { memoryBytes: 1e9, speed: 1 }];
    expect(placementReport(greedy({ experts, devices }), { experts, devices }).expectedImbalance).toBeLessThan(1.1);
    const hot = { experts: zipf(16, 2).map((load) => ({ bytes: 100, load })), devices, replicate: { threshold: 0.25 } };
    const report = placementReport(greedy(hot), hot);
    expect(report.replicated).toContain(0);
    expect(report.expectedImbalance).toBeLessThan(1.05);
  });
  test("imbalance is max / mean", () => {
    expect(imbalance([3, 1])).toBe(1.5);
    expect(imbalance([0, 0])).toBe(1);
  });
});

describe("dispatch", () => {
  test("slots are grouped by device then expert, rows in order, each routed row once", () => {
    const rng = new Rng(2);
    const rows = 50;
    const k = 2;
    const topIdx = new Int32Array(rows * k);
    for (let i = 0; i < rows; i++) {
      topIdx[i * k] = rng.int(4);
      topIdx[i * k + 1] = (topIdx[i * k]! + 1 + rng.int(3)) % 4;
    }
    const topVals = Float32Array.from({ length: rows * k }, (_, i) => i + 1);
    const slotRow = new Int32Array(rows * k);
    const slotWeight = new Float32Array(rows * k);
    const replicas = [[0], [1], [0, 1], [1]];
    const d = dispatch({ rows, k, topIdx, topVals, replicas, devices: 2, cost: [1, 1, 1, 1], capacity: Infinity, overflow: "drop" }, slotRow, slotWeight);
    expect(d.slots).toBe(rows * k);
    expect(d.dropped).toBe(0);
    const seen = new Set<number>();
    for (const segs of d.segments) {
      for (const s of segs) {
        expect(replicas[s.expert]).toContain(s.device);
        for (let t = s.start; t < s.start + s.count; t++) {
          const i = slotRow[t]!;
          const j = topIdx[i * k] === s.expert ? 0 : 1;
          expect(topIdx[i * k + j]).toBe(s.expert);
          expect(slotWeight[t]).toBe(i * k + j + 1);
          if (t > s.start) expect(slotRow[t]!).toBeGreaterThan(slotRow[t - 1]!);
          seen.add(i * k + j);
        }
      }
    }
    expect(seen.size).toBe(rows * k);
    expect(Math.abs(d.deviceLoad[0]! - d.deviceLoad[1]!)).toBeLessThanOrEqual(Math.max(...d.routed) );
  });
  test("routing to an unknown expert, or to one expert twice in a row, is an error", () => {
    const base = { rows: 2, k: 2, topVals: new Float32Array(4).fill(0.5), replicas: [[0], [0]], devices: 1, cost: [1, 1], capacity: Infinity, overflow: "drop" as const };
    const slots = () => [new Int32Array(4), new Float32Array(4)] as const;
    expect(() => dispatch({ ...base, topIdx: Int32Array.of(0, 1, 1, 2) }, ...slots())).toThrow("dispatch: row 1 is routed to expert 2, the layer has 2");
    expect(() => dispatch({ ...base, topIdx: Int32Array.of(0, 1, 1, 1) }, ...slots())).toThrow("dispatch: row 1 is routed to expert 1 twice");
  });
  test("a gate weight of 0 routes nothing (ReLU routing): that expert neither counts nor computes the row", () => {
    // Row 0: experts 0 and 1 on; row 1: only expert 1 (expert 0 at weight 0); row 2: none.
    const topIdx = Int32Array.of(0, 1, 0, 1, 1, 0);
    const topVals = Float32Array.of(0.5, 0.25, 0, 2, 0, 0);
    const slotRow = new Int32Array(6);
    const slotWeight = new Float32Array(6);
    const d = dispatch({ rows: 3, k: 2, topIdx, topVals, replicas: [[0], [1]], devices: 2, cost: [1, 1], capacity: Infinity, overflow: "drop" }, slotRow, slotWeight);
    expect(d.slots).toBe(3);
    expect(Array.from(d.routed)).toEqual([1, 2]);
    expect(d.segments.map((segs) => segs.map((s) => [s.expert, s.count]))).toEqual([[[0, 1]], [[1, 2]]]);
    expect(Array.from(slotRow.subarray(0, 3))).toEqual([0, 0, 1]);
    expect(Array.from(slotWeight.subarray(0, 3))).toEqual([0.5, 0.25, 2]);
  });
  test("a replicated expert's rows even out the devices' load", () => {
    const rows = 100;
    const topIdx = Int32Array.from({ length: rows }, (_, i) => (i < 80 ? 0 : 1));
    const d = dispatch({ rows, k: 1, topIdx, topVals: new Float32Array(rows).fill(1), replicas: [[0, 1], [1]], devices: 2, cost: [1, 1], capacity: Infinity, overflow: "drop" }, new Int32Array(rows), new Float32Array(rows));
    expect(Array.from(d.deviceLoad)).toEqual([50, 50]);
  });
});
