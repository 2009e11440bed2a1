// Expert placement: which devices hold (and compute) each expert of a MoE
// layer. Strategies share one contract (tests/moe/placement.test.ts): every
// expert is on at least one device, replicas are on distinct devices, no
// device holds more parameter bytes than its memory, and the result depends
// only on the input. `greedy` balances expected load (then bytes) and
// replicates hot experts; `roundRobin` is the naive baseline.
import { TensorError } from "../errors";

export interface PlacementInput {
  /** Per expert: parameter bytes and expected load (rows × cost per row; any unit). */
  experts: { bytes: number; load: number }[];
  /** Per device: memory budget (bytes) and relative speed (threads). */
  devices: { memoryBytes: number; speed: number }[];
  /**
   * Hot-expert replication: an expert whose expected load exceeds `threshold` ×
   * a device's fair share (total load / devices) gets ⌈load / (threshold × fair)⌉
   * replicas (at most `maxReplicas`, default every device). Off when undefined.
   */
  replicate?: { threshold: number; maxReplicas?: number };
}

export interface Placement {
  /** expert -> devices holding it (first = primary), distinct. */
  replicas: number[][];
  strategy: string;
}

export type PlacementStrategy = (input: PlacementInput) => Placement;

function validate(input: PlacementInput): void {
  if (input.devices.length === 0) throw new TensorError("placement: no devices");
  if (input.experts.length === 0) throw new TensorError("placement: no experts");
  for (const e of input.experts) if (!(e.bytes >= 0 && e.load >= 0)) throw new TensorError("placement: expert bytes and load must be >= 0");
  for (const d of input.devices) if (!(d.speed > 0 && d.memoryBytes >= 0)) throw new TensorError("placement: device speed must be > 0, memory >= 0");
}

function outOfMemory(e: number, bytes: number, devices: number): TensorError {
  return new TensorError(`placement: expert ${e} (${bytes} bytes) fits on none of the ${devices} devices' remaining memory`);
}

/** Expert e on device e mod D (ignores load; memory still checked). */
export const roundRobin: PlacementStrategy = (input) => {
  validate(input);
  const D = input.devices.length;
  const free = input.devices.map((d) => d.memoryBytes);
  const replicas = input.experts.map((ex, e) => {
    for (let t = 0; t < D; t++) {
      const d = (e + t) % D;
      if (free[d]! >= ex.bytes) {
        free[d]! -= ex.bytes;
        return [d];
      }
    }
    throw outOfMemory(e, ex.bytes, D);
  });
  return { replicas, strategy: "round-robin" };
};

/**
 * Longest-processing-time first: experts (or replica shares of hot experts) in
 * decreasing load, each to the device whose finish time (load / speed) grows
 * least, ties to fewer bytes, among devices with memory left for it.
 */
export const greedy: PlacementStrategy = (input) => {
  validate(input);
  const D = input.devices.length;
  const total = input.experts.reduce((a, e) => a + e.load, 0);
  const fair = total / D;
  const copies = input.experts.map((e) => {
    const r = input.replicate;
    if (!r || fair === 0) return 1;
    const max = Math.min(D, r.maxReplicas ?? D);
    return Math.max(1, Math.min(max, Math.ceil(e.load / (r.threshold * fair))));
  });
  const load = new Array<number>(D).fill(0);
  const bytes = new Array<number>(D).fill(0);
  const replicas: number[][] = input.experts.map(() => []);
  const order = input.experts.map((_, e) => e).sort((a, b) => input.experts[b]!.load / copies[b]! - input.experts[a]!.load / copies[a]! || input.experts[b]!.bytes - input.experts[a]!.bytes || a - b);
  for (const e of order) {
    const ex = input.experts[e]!;
    const share = ex.load / copies[e]!;
    for (let c = 0; c < copies[e]!; c++) {
      let best = -1;
      for (let d = 0; d < D; d++) {
        if (replicas[e]!.includes(d) || bytes[d]! + ex.bytes > input.devices[d]!.memoryBytes) continue;
        if (best < 0) {
          best = d;
          continue;
        }
        const t = (load[d]! + share) / input.devices[d]!.speed;
        const tb = (load[best]! + share) / input.devices[best]!.speed;
        if (t < tb - 1e-12 || (Math.abs(t - tb) <= 1e-12 && bytes[d]! < bytes[best]!)) best = d;
      }
      if (best < 0) {
        if (c === 0) throw outOfMemory(e, ex.bytes, D);
        break; // no room for another replica: fewer copies
      }
      replicas[e]!.push(best);
      load[best]! += share;
      bytes[best]! += ex.bytes;
    }
  }
  return { replicas, strategy: input.replicate ? "greedy+replicas" : "greedy" };
};

export const placementStrategies: Record<string, PlacementStrategy> = { "round-robin": roundRobin, greedy };

export interface PlacementReport {
  strategy: string;
  devices: { device: number; experts: number[]; replicaOf: number[]; bytes: number; expectedLoad: number }[];
  /** max / mean expected device load (load of a replicated expert split evenly). */
  expectedImbalance: number;
  replicated: number[];
}

/** What each device holds and its expected share of the load. */
export function placementReport(p: Placement, input: PlacementInput): PlacementReport {
  const devices = input.devices.map((_, d) => ({ device: d, experts: [] as number[], replicaOf: [] as number[], bytes: 0, expectedLoad: 0 }));
  p.replicas.forEach((ds, e) => {
    ds.forEach((d, i) => {
      const dev = devices[d]!;
      (i === 0 ? dev.experts : dev.replicaOf).push(e);
      dev.bytes += input.experts[e]!.bytes;
      dev.expectedLoad += input.experts[e]!.load / ds.length;
    });
  });
  const loads = devices.map((d) => d.expectedLoad / input.devices[d.device]!.speed);
  return { strategy: p.strategy, devices, expectedImbalance: imbalance(loads), replicated: p.replicas.flatMap((ds, e) => (ds.length > 1 ? [e] : [])) };
}

/** max / mean (1 = perfectly balanced; 1 when everything is 0). */
export function imbalance(loads: readonly number[]): number {
  const mean = loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length);
  return mean > 0 ? Math.max(...loads) / mean : 1;
}
