// One mixture-of-experts layer run expert-parallel: each expert (a chain of
// linear layers) is packed on the devices that hold it; a batch's rows are
// dispatched to those devices (grouped per expert: one GEMM per layer per
// expert), every device computes its experts concurrently on its own threads,
// and the results are combined with their gate weights in original row order.
// Routing statistics re-plan the placement (and hot-expert replicas) between
// batches, without stopping.
import { RankfnError } from "../errors";
import { type Pointer, ptr } from "bun:ffi";
import type { Device } from "../devices/device";
import { DeviceError } from "../devices/device";
import { waitAll } from "../devices";
import { CommandList } from "../ffi/commands";
import { DeviceBuffer } from "../ffi/device";
import { check, native } from "../ffi/native";
import { PackedWeight } from "../ffi/weights";
import type { Tensor } from "../tensor/tensor";
import { type Dispatch, type OverflowPolicy, dispatch } from "./dispatch";
import { type Placement, type PlacementReport, type PlacementStrategy, greedy, imbalance, placementReport, placementStrategies } from "./placement";

/** One linear layer of an expert: y = act(x · Wᵀ + b); W [out, in] (f32/bf16/i8 with scales). */
export interface ExpertLinear {
  w: Tensor;
  scales?: Tensor;
  /** int8: the activation bits the compiler chose (rf_weight_set_act_bits). */
  actBits?: 8 | 16;
  b: Tensor<"f32">;
  act: number;
}

export interface ExpertParallelOptions {
  placement?: string | PlacementStrategy;
  /** Rows per expert replica per batch = ⌈capacityFactor × rows × k / experts⌉ (default Infinity: no limit). */
  capacityFactor?: number;
  overflow?: OverflowPolicy;
  /** Replicate hot experts when re-planning (see PlacementInput.replicate); false: never. */
  replicate?: { threshold: number; maxReplicas?: number } | false;
  /** Re-plan from the routing statistics every N batches (0: only when replan() is called). */
  replanEvery?: number;
}

export interface LayerStats {
  layer: string;
  experts: number;
  batches: number;
  failedBatches: number;
  /** Rows routed to each expert since load. */
  expertLoad: number[];
  dropped: number;
  /** Bytes of rows sent to devices and results sent back, since load. */
  dispatchedBytes: number;
  /** Per device: rows computed and load (rows × cost) since load. */
  deviceRows: number[];
  /** max / mean device load of the last batch and since load. */
  imbalanceLast: number;
  imbalance: number;
  placement: PlacementReport;
  replans: number;
}

interface Scratch {
  capacity: number;
  k: number;
  xe: DeviceBuffer[];
  he: DeviceBuffer[];
  out: DeviceBuffer;
  slotRow: Int32Array;
  slotWeight: Float32Array;
  slotRowPtr: number;
  slotWeightPtr: number;
  owned: DeviceBuffer[];
}

interface PackedExpert {
  layers: { w: PackedWeight; b: DeviceBuffer }[];
}

const nativeAddress = (a: Float32Array | Int32Array): number => ptr(a) as number;

export class ExpertLayer {
  readonly #devices: Device[];
  readonly #strategy: PlacementStrategy;
  readonly #bytes: number[];
  readonly #cost: number[];
  readonly #hidden: number;
  /** Hidden buffers a chain needs: 1 for two layers, 2 (ping-pong) for more. */
  readonly #hiddenBuffers: number;
  readonly #packed: Map<number, PackedExpert>[];
  readonly #lists: CommandList[];
  readonly #scratch = new Map<number, Scratch>();
  readonly #recent: Float64Array;
  readonly #load: Float64Array;
  readonly #deviceRows: Float64Array;
  readonly #deviceLoad: Float64Array;
  /** Threads of each device (its relative speed). */
  readonly #speed: number[];
  #placement!: Placement;
  #report!: PlacementReport;
  #batches = 0;
  #failed = 0;
  #dropped = 0;
  #bytesMoved = 0;
  #lastImbalance = 1;
  #replans = 0;
  #sinceReplan = 0;

  constructor(
    readonly name: string,
    readonly experts: ExpertLinear[][],
    readonly inWidth: number,
    readonly outWidth: number,
    devices: Device[],
    readonly options: ExpertParallelOptions = {},
  ) {
    if (devices.length === 0) throw new RankfnError(`expert layer "${name}": no devices`, "bad_option", 400);
    this.#devices = devices;
    const p = options.placement ?? "greedy";
    this.#strategy = typeof p === "string" ? placementStrategies[p]! : p;
    if (!this.#strategy) throw new RankfnError(`expert layer "${name}": unknown placement ${JSON.stringify(p)} (known: ${Object.keys(placementStrategies).join(", ")})`, "bad_option", 400);
    this.#bytes = experts.map((layers) => layers.reduce((a, l) => a + l.w.data.byteLength + (l.scales?.data.byteLength ?? 0) + l.b.data.byteLength, 0));
    this.#cost = experts.map((layers) => layers.reduce((a, l) => a + l.w.shape[0]! * l.w.shape[1]!, 0));
    this.#hidden = Math.max(...experts.flatMap((layers) => layers.slice(0, -1).map((l) => l.w.shape[0]!)), 1);
    this.#hiddenBuffers = Math.min(2, Math.max(...experts.map((layers) => layers.length - 1)));
    this.#speed = devices.map((d) => d.stats().threads);
    this.#packed = devices.map(() => new Map());
    this.#lists = devices.map(() => new CommandList());
    this.#recent = new Float64Array(experts.length);
    this.#load = new Float64Array(experts.length);
    this.#deviceRows = new Float64Array(devices.length);
    this.#deviceLoad = new Float64Array(devices.length);
    // First placement: no routing seen yet, every expert expected equally loaded.
    this.#apply(this.#plan(this.experts.map(() => 1), false));
  }

  get placement(): Placement {
    return this.#placement;
  }

  /**
   * Run one batch: x [rows, inWidth] (row stride ldx) routed by topIdx/topVals
   * [rows × k]; y [rows, outWidth] (stride ldy) = Σ_j topVals[i,j] · expert_{topIdx[i,j]}(x_i).
   * Throws DeviceError when a device fails; the next batch runs normally.
   */
  run(rows: number, k: number, x: Float32Array, ldx: number, topIdx: Int32Array, topVals: Float32Array, y: Float32Array, ldy: number): void {
    const s = this.#scratchFor(rows, k);
    const capacity = this.options.capacityFactor === undefined || !Number.isFinite(this.options.capacityFactor) ? Infinity : Math.ceil((this.options.capacityFactor * rows * k) / this.experts.length);
    const plan = dispatch(
      { rows, k, topIdx, topVals, replicas: this.#placement.replicas, devices: this.#devices.length, cost: this.#cost, capacity, overflow: this.options.overflow ?? "drop" },
      s.slotRow,
      s.slotWeight,
    );
    const xAddr = nativeAddress(x);
    const outAddr = s.out.ptr as number;
    for (let d = 0; d < this.#devices.length; d++) {
      const list = this.#lists[d]!;
      list.reset();
      const xe = s.xe[d]!.ptr as number;
      const he = s.he[d]!.ptr as number;
      for (const seg of plan.segments[d]!) {
        const layers = this.#packed[d]!.get(seg.expert)!.layers;
        list.gatherRows(seg.count, this.inWidth, xAddr, ldx, rows, s.slotRowPtr + seg.start * 4, null, xe, this.inWidth);
        let src = xe;
        let width = this.inWidth;
        layers.forEach((l, i) => {
          const last = i === layers.length - 1;
          const dst = last ? outAddr + seg.start * this.outWidth * 4 : i % 2 === 0 ? he : he + s.capacity * this.#hidden * 4;
          const outW = l.w.n;
          list.gemm(seg.count, src, width, l.w.handle as number, l.b.ptr as number, this.experts[seg.expert]![i]!.act, dst, last ? this.outWidth : outW);
          src = dst;
          width = outW;
        });
      }
      this.#devices[d]!.submit(list);
    }
    this.#waitAll();
    for (let i = 0; i < rows; i++) y.fill(0, i * ldy, i * ldy + this.outWidth);
    check(native().rf_scatter_add_rows(null, plan.slots, this.outWidth, s.out.ptr, this.outWidth, s.slotRow, s.slotWeight, y, ldy, rows), "rf_scatter_add_rows");
    this.#record(plan, plan.slots * (this.inWidth + this.outWidth) * 4);
  }

  /**
   * Run one batch of a dense mixture's experts: every row through every expert,
   * expert e reading inputs[e] and writing outputs[e] ([rows, width], stride ld).
   * A replicated expert's rows are split (contiguously) across its replicas. The
   * gate-weighted combine is the caller's (the graph's mixture nodes).
   */
  runDense(rows: number, inputs: { data: Float32Array; ld: number }[], outputs: { data: Float32Array; ld: number }[]): void {
    const E = this.experts.length;
    const s = this.#scratchFor(rows, E, true);
    const topIdx = this.#denseRouting(rows);
    const plan = dispatch(
      { rows, k: E, topIdx, topVals: this.#ones!, replicas: this.#placement.replicas, devices: this.#devices.length, cost: this.#cost, capacity: Infinity, overflow: "drop" },
      s.slotRow,
      s.slotWeight,
    );
    let moved = 0;
    for (let d = 0; d < this.#devices.length; d++) {
      const list = this.#lists[d]!;
      list.reset();
      const he = s.he[d]!.ptr as number;
      for (const seg of plan.segments[d]!) {
        const r0 = s.slotRow[seg.start]!; // a segment's rows are contiguous: r0 .. r0 + count
        const input = inputs[seg.expert]!;
        const output = outputs[seg.expert]!;
        const layers = this.#packed[d]!.get(seg.expert)!.layers;
        let src = nativeAddress(input.data) + r0 * input.ld * 4;
        let ld = input.ld;
        layers.forEach((l, i) => {
          const last = i === layers.length - 1;
          const dst = last ? nativeAddress(output.data) + r0 * output.ld * 4 : i % 2 === 0 ? he : he + s.capacity * this.#hidden * 4;
          const ldy = last ? output.ld : l.w.n;
          list.gemm(seg.count, src, ld, l.w.handle as number, l.b.ptr as number, this.experts[seg.expert]![i]!.act, dst, ldy);
          src = dst;
          ld = ldy;
        });
        moved += seg.count * (layers[0]!.w.k + layers.at(-1)!.w.n) * 4;
      }
      this.#devices[d]!.submit(list);
    }
    this.#waitAll();
    this.#record(plan, moved);
  }

  #ones: Float32Array | undefined;
  #denseIdx: Int32Array | undefined;

  /** Routing of a dense mixture: row i -> experts 0..E-1, weight 1 (kept across batches). */
  #denseRouting(rows: number): Int32Array {
    const E = this.experts.length;
    if (!this.#denseIdx || this.#denseIdx.length < rows * E) {
      const cap = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, rows))));
      this.#denseIdx = Int32Array.from({ length: cap * E }, (_, i) => i % E);
      this.#ones = new Float32Array(cap * E).fill(1);
    }
    return this.#denseIdx;
  }

  /** Wait for every device (even after one failed: none may still use the buffers), then throw the first failure. */
  #waitAll(): void {
    try {
      waitAll(this.#devices);
    } catch (failure) {
      this.#failed++;
      throw failure instanceof DeviceError ? new DeviceError(`MoE layer "${this.name}": ${failure.message}`, failure.device) : failure;
    }
  }

  #record(plan: Dispatch, moved: number): void {
    this.#batches++;
    this.#dropped += plan.dropped;
    for (let e = 0; e < this.experts.length; e++) {
      this.#load[e]! += plan.routed[e]!;
      this.#recent[e]! += plan.routed[e]!;
    }
    plan.segments.forEach((segs, d) => {
      for (const seg of segs) this.#deviceRows[d]! += seg.count;
      this.#deviceLoad[d]! += plan.deviceLoad[d]!;
    });
    this.#bytesMoved += moved;
    this.#lastImbalance = imbalance(Array.from(plan.deviceLoad, (l, d) => l / this.#speed[d]!));
    const every = this.options.replanEvery ?? 0;
    if (every > 0 && ++this.#sinceReplan >= every) this.replan();
  }

  /** Re-place experts from the rows routed since the last re-plan (replicating hot ones if enabled). */
  replan(): PlacementReport {
    const loads = Array.from(this.#recent, (r, e) => r * this.#cost[e]!);
    const seen = loads.some((l) => l > 0);
    this.#apply(this.#plan(seen ? loads : this.experts.map(() => 1), this.options.replicate !== false && this.options.replicate !== undefined));
    this.#recent.fill(0);
    this.#sinceReplan = 0;
    this.#replans++;
    return this.#report;
  }

  #plan(loads: number[], replicate: boolean): { placement: Placement; report: PlacementReport } {
    const input = {
      experts: this.experts.map((_, e) => ({ bytes: this.#bytes[e]!, load: loads[e]! })),
      devices: this.#devices.map((d, i) => ({ memoryBytes: d.memoryBytes, speed: this.#speed[i]! })),
      replicate: replicate && this.options.replicate ? this.options.replicate : undefined,
    };
    const placement = this.#strategy(input);
    return { placement, report: placementReport(placement, input) };
  }

  /** Pack experts newly placed on a device, free those it no longer holds. */
  #apply({ placement, report }: { placement: Placement; report: PlacementReport }): void {
    this.#devices.forEach((dev, d) => {
      const want = new Set(placement.replicas.flatMap((ds, e) => (ds.includes(d) ? [e] : [])));
      const held = this.#packed[d]!;
      for (const [e, p] of held) {
        if (want.has(e)) continue;
        for (const l of p.layers) {
          l.w.dispose();
          l.b.dispose();
        }
        held.delete(e);
      }
      for (const e of want) {
        if (held.has(e)) continue;
        held.set(e, {
          layers: this.experts[e]!.map((l) => {
            const b = new DeviceBuffer(dev.backendDevice, l.b.data.byteLength);
            b.upload(l.b.data);
            const w = PackedWeight.pack(l.w, l.scales, dev.backendDevice);
            if (l.actBits === 16 && l.w.dtype === "i8") w.setActivationBits(16);
            return { w, b };
          }),
        });
      }
    });
    this.#placement = placement;
    this.#report = report;
  }

  /** Buffers for batches of up to `capacity` rows (power-of-two buckets), kept across batches. */
  #scratchFor(rows: number, k: number, dense = false): Scratch {
    const capacity = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, rows))));
    let s = this.#scratch.get(capacity);
    if (s && s.k >= k) return s;
    if (s) for (const b of s.owned) b.dispose();
    const owned: DeviceBuffer[] = [];
    const buf = (device: number, bytes: number) => {
      const b = new DeviceBuffer(device, Math.max(64, bytes));
      owned.push(b);
      return b;
    };
    const slotBuf = buf(0, capacity * k * 4);
    const weightBuf = buf(0, capacity * k * 4);
    s = {
      capacity,
      k,
      xe: this.#devices.map((d) => buf(d.backendDevice, dense ? 0 : capacity * this.inWidth * 4)),
      he: this.#devices.map((d) => buf(d.backendDevice, this.#hiddenBuffers * capacity * this.#hidden * 4)),
      out: buf(0, dense ? 0 : capacity * k * this.outWidth * 4),
      slotRow: new Int32Array(slotBuf.view()),
      slotWeight: new Float32Array(weightBuf.view()),
      slotRowPtr: slotBuf.ptr as number,
      slotWeightPtr: weightBuf.ptr as number,
      owned,
    };
    this.#scratch.set(capacity, s);
    return s;
  }

  stats(): LayerStats {
    return {
      layer: this.name,
      experts: this.experts.length,
      batches: this.#batches,
      failedBatches: this.#failed,
      expertLoad: Array.from(this.#load),
      dropped: this.#dropped,
      dispatchedBytes: this.#bytesMoved,
      deviceRows: Array.from(this.#deviceRows),
      imbalanceLast: this.#lastImbalance,
      imbalance: imbalance(Array.from(this.#deviceLoad, (l, d) => l / this.#speed[d]!)),
      placement: this.#report,
      replans: this.#replans,
    };
  }

  dispose(): void {
    for (const held of this.#packed) {
      for (const p of held.values()) for (const l of p.layers) (l.w.dispose(), l.b.dispose());
      held.clear();
    }
    for (const s of this.#scratch.values()) for (const b of s.owned) b.dispose();
    this.#scratch.clear();
  }
}

export type { Pointer };
