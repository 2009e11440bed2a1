// Dispatch of one batch's routing: which rows each device computes for each
// expert, laid out as slots grouped by device, then expert (so each expert
// runs one GEMM pair over contiguous slots), with the capacity limit and the
// overflow policy applied and rows of replicated experts split across their
// replicas to even out the devices' load. Pure: no native calls.
import { TensorError } from "../errors";

/** What happens to rows routed to an expert beyond its capacity. */
export type OverflowPolicy = "drop" | "spill";

export interface DispatchInput {
  rows: number;
  k: number;
  /** [rows × k] chosen experts and their gate weights (dense mixtures: every expert, k = E); a weight of 0 routes nothing (ReLU routing). */
  topIdx: Int32Array;
  topVals: Float32Array;
  /** expert -> devices holding it (first = primary). */
  replicas: number[][];
  devices: number;
  /** Cost of one row on each expert (e.g. its hidden width): the unit of device load. */
  cost: readonly number[];
  /**
   * Rows one expert replica takes per batch (Infinity: unlimited). Rows past it,
   * in row order, overflow: "drop" — an expert takes at most `capacity` rows in
   * all (replicas only share them), the rest contribute nothing (the model's
   * residual carries those rows); "spill" — they go to the expert's other
   * replicas while those have room (up to replicas × capacity), then drop.
   */
  capacity: number;
  overflow: OverflowPolicy;
}

export interface Segment {
  device: number;
  expert: number;
  /** First slot and slot count. */
  start: number;
  count: number;
}

export interface Dispatch {
  /** Slots in use (≤ rows × k). */
  slots: number;
  /** Per device, its segments in expert order. */
  segments: Segment[][];
  /** Rows routed to each expert (before capacity). */
  routed: Int32Array;
  /** Routed rows each expert computed (after capacity). */
  accepted: Int32Array;
  dropped: number;
  /** Σ rows × cost per device. */
  deviceLoad: Float64Array;
}

/**
 * Fill `slotRow` / `slotWeight` (length ≥ rows × k) with the batch's slots and
 * return where each device's experts start.
 */
export function dispatch(input: DispatchInput, slotRow: Int32Array, slotWeight: Float32Array): Dispatch {
  const { rows, k, topIdx, topVals, replicas, devices, cost, capacity, overflow } = input;
  const E = replicas.length;
  const routed = new Int32Array(E);
  for (let i = 0; i < rows * k; i++) {
    if (topVals[i] === 0) continue;
    const e = topIdx[i]!;
    if (!(e >= 0 && e < E)) throw new TensorError(`dispatch: row ${Math.floor(i / k)} is routed to expert ${e}, the layer has ${E}`);
    for (let t = i - (i % k); t < i; t++) if (topIdx[t] === e) throw new TensorError(`dispatch: row ${Math.floor(i / k)} is routed to expert ${e} twice`);
    routed[e]!++;
  }
  const accepted = new Int32Array(E);
  for (let e = 0; e < E; e++) {
    const limit = overflow === "drop" ? capacity : capacity * replicas[e]!.length;
    accepted[e] = Math.min(routed[e]!, limit);
  }
  // Rows per (expert, replica): single-replica experts first (fixed), then
  // replicated ones, heaviest first, water-filled onto their least loaded replica.
  const share = replicas.map((ds) => new Int32Array(ds.length));
  const deviceLoad = new Float64Array(devices);
  const replicated: number[] = [];
  for (let e = 0; e < E; e++) {
    if (replicas[e]!.length === 1) {
      share[e]![0] = accepted[e]!;
      deviceLoad[replicas[e]![0]!]! += accepted[e]! * cost[e]!;
    } else replicated.push(e);
  }
  replicated.sort((a, b) => accepted[b]! * cost[b]! - accepted[a]! * cost[a]! || a - b);
  const perReplica = overflow === "spill" ? capacity : Infinity;
  for (const e of replicated) {
    const ds = replicas[e]!;
    for (let left = accepted[e]!; left > 0; left--) {
      let best = -1;
      for (let r = 0; r < ds.length; r++) {
        if (share[e]![r]! >= perReplica) continue;
        if (best < 0 || deviceLoad[ds[r]!]! < deviceLoad[ds[best]!]!) best = r;
      }
      share[e]![best]!++;
      deviceLoad[ds[best]!]! += cost[e]!;
    }
  }
  // Slot layout: device-major, expert order within a device.
  const segments: Segment[][] = Array.from({ length: devices }, () => []);
  const startOf = replicas.map((ds) => new Int32Array(ds.length));
  let cursor = 0;
  for (let d = 0; d < devices; d++) {
    for (let e = 0; e < E; e++) {
      const r = replicas[e]!.indexOf(d);
      if (r < 0 || share[e]![r]! === 0) continue;
      startOf[e]![r] = cursor;
      segments[d]!.push({ device: d, expert: e, start: cursor, count: share[e]![r]! });
      cursor += share[e]![r]!;
    }
  }
  // Rows in order: the first accepted rows of an expert fill its replicas in turn.
  const seen = new Int32Array(E);
  const replicaAt = new Int32Array(E);
  const filled = share.map((s) => new Int32Array(s.length));
  let dropped = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < k; j++) {
      if (topVals[i * k + j] === 0) continue;
      const e = topIdx[i * k + j]!;
      if (seen[e]! >= accepted[e]!) {
        dropped++;
        continue;
      }
      seen[e]!++;
      let r = replicaAt[e]!;
      while (filled[e]![r]! >= share[e]![r]!) r++;
      replicaAt[e] = r;
      const at = startOf[e]![r]! + filled[e]![r]!++;
      slotRow[at] = i;
      slotWeight[at] = topVals[i * k + j]!;
    }
  }
  return { slots: cursor, segments, routed, accepted, dropped, deviceLoad };
}
