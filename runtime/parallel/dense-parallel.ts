// Dense parallelism of one model (`parallel.dense`, issue 20): its devices
// (opened from a spec or given), the linear chains and how they split
// (linear-pairs.ts), each device's slices of the weights packed for it with
// the compiler's quantization choices (int8 scales, activation groups and
// bits, as weight-cache.ts packs the whole weights), and the counters
// inspect() and stats() report. A device with memory of its own (an OpenCL
// sub-device) holds its slices there; the activations it reads and writes in
// host memory are wrapped by the backend for each command (README: the OpenCL
// memory model), and its scratch is its own memory. Shared by every batch-size plan; each plan's
// steps (tensor-parallel.ts, replicated-chain.ts) run their batches over it.
import { type Device, openDevices } from "../devices";
import type { DeviceDescription } from "../devices/device";
import { RankfnError } from "../errors";
import { DeviceBuffer } from "../ffi/device";
import { PackedWeight } from "../ffi/weights";
import type { BuiltModel } from "../graph/builder";
import type { GraphInfo } from "../graph/infer";
import { type Tensor, tensor } from "../tensor/tensor";
import { type ChainLinear, type DenseGroup, type DenseStrategy, denseGroups, linearChains, splitByWeight } from "./linear-pairs";
import { sharesHostMemory } from "./table-shards";

export interface DenseParallelConfig {
  devices: string | Device[];
  dense: DenseStrategy;
}

/** A linear's weight (or slice of it) packed on one device, with its bias (or its slice). */
export interface PackedLinear {
  w: PackedWeight;
  bias: DeviceBuffer | null;
}

/** One device's part of a group: the columns (pair: of the first linear's outputs; column: of the output) and its packed slices. */
export interface DevicePart {
  columns: { start: number; end: number };
  /** pair: [first's row slice, second's column slice (no bias)]; column: [row slice]; rows: the whole chain (shared on host memory). */
  linears: PackedLinear[];
}

export interface PlacedGroup {
  group: DenseGroup;
  parts: DevicePart[];
  /** pair: the second linear's whole bias, added once by the reduce. */
  reduceBias: DeviceBuffer | null;
}

export interface DenseGroupReport {
  kind: DenseGroup["kind"];
  linears: string[];
  /** in → … → out features along the group. */
  widths: number[];
  dtype: string[];
  /** Per device: the slice it holds (pair: the first linear's output columns = the second's input rows; column: output columns; rows: every column, and its share of a batch's rows). */
  slices: { device: string; columns: [number, number]; bytes: number; rowShare?: number }[];
}

export interface DenseParallelReport {
  strategy: DenseStrategy;
  devices: string[];
  groups: DenseGroupReport[];
  /** Bytes of packed weights per device id (host-memory devices share a replicated chain's). */
  deviceBytes: Record<string, number>;
}

export interface DenseParallelStats {
  devices: (DeviceDescription & { busyMs: number })[];
  /** Group runs (one group of one batch) over the devices, and those a device failed. */
  batches: number;
  failedBatches: number;
}

const bytesOf = { f32: 4, bf16: 2, i8: 1 } as Record<string, number>;

export class DenseParallel {
  readonly devices: Device[];
  readonly strategy: DenseStrategy;
  readonly groups: PlacedGroup[] = [];
  readonly counters = { batches: 0, failedBatches: 0 };
  /** Device threads, the weights rows and columns split by. */
  readonly speeds: number[];
  readonly #byFirstNode = new Map<string, PlacedGroup>();
  readonly #inside = new Set<string>();
  readonly #owned: { dispose(): void }[] = [];
  readonly #ownsDevices: boolean;
  /** Scratch memory per (device, use), grown on demand and shared by every plan (an executor runs one batch at a time). */
  readonly #scratch = new Map<string, DeviceBuffer>();

  /** `model` is the compiled model (its weights as the linears read them, quantized or not). */
  constructor(
    readonly model: BuiltModel,
    info: GraphInfo,
    config: DenseParallelConfig,
  ) {
    this.strategy = config.dense;
    this.#ownsDevices = typeof config.devices === "string";
    this.devices = typeof config.devices === "string" ? openDevices(config.devices) : config.devices;
    try {
      this.speeds = this.devices.map((d) => Math.max(1, d.stats().threads));
      for (const group of denseGroups(linearChains(model.graph, info), this.strategy)) {
        const placed = this.#place(group);
        this.groups.push(placed);
        this.#byFirstNode.set(group.linears[0]!.node, placed);
        for (const l of group.linears.slice(1)) this.#inside.add(l.node);
        for (const l of group.linears) if (l.absorbed) this.#inside.add(l.absorbed);
      }
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  /** The group whose step runs at node `name` (its first linear). */
  groupAt(name: string): PlacedGroup | undefined {
    return this.#byFirstNode.get(name);
  }

  /** Is node `name` a later linear of a group (run by the group's step, its own step does nothing)? */
  runsInGroup(name: string): boolean {
    return this.#inside.has(name);
  }

  /** The native address of at least `bytes` of scratch for `use` on device `d` (valid until the next call asks for more). */
  scratch(d: number, use: string, bytes: number): number {
    const key = `${d}/${use}`;
    let b = this.#scratch.get(key);
    if (!b || b.bytes < bytes) {
      b?.dispose();
      b = new DeviceBuffer(this.devices[d]!.backendDevice, Math.max(64, bytes));
      this.#scratch.set(key, b);
    }
    return b.ptr as number;
  }

  #place(group: DenseGroup): PlacedGroup {
    const weights = this.model.weights;
    if (group.kind === "rows") {
      // Core groups share host memory: one packed copy of the chain serves them all (rf_gemm only
      // reads it); a device with memory of its own gets its copy there.
      const pack = (device: number) => group.linears.map((l) => this.#pack(l, weight(weights, l.w), this.#bias(l, 0, l.n), undefined, device));
      const shared = this.devices.some(sharesHostMemory) ? pack(0) : undefined;
      const columns = { start: 0, end: group.linears.at(-1)!.n };
      return { group, reduceBias: null, parts: this.devices.map((d) => ({ columns, linears: sharesHostMemory(d) ? shared! : pack(d.backendDevice) })) };
    }
    const first = group.linears[0]!;
    const spans = splitByWeight(first.n, this.speeds);
    const w = weight(weights, first.w);
    const parts = spans.map((columns, d): DevicePart => {
      if (columns.end === columns.start) return { columns, linears: [] };
      const device = this.devices[d]!.backendDevice;
      const linears = [this.#pack(first, rowSlice(w, columns.start, columns.end), this.#bias(first, columns.start, columns.end), this.#scales(first, columns.start, columns.end), device)];
      if (group.kind === "pair") {
        const second = group.linears[1]!;
        linears.push(this.#pack(second, columnSlice(weight(weights, second.w), columns.start, columns.end), null, undefined, device));
      }
      return { columns, linears };
    });
    const reduceBias = group.kind === "pair" ? this.#bias(group.linears[1], 0, group.linears[1].n) : null;
    return { group, parts, reduceBias };
  }

  /** Pack `w` (a slice of linear `l`'s weight) with the compiler's int8 choices for it. */
  #pack(l: ChainLinear, w: Tensor, bias: DeviceBuffer | null, scales: Tensor | undefined, device: number): PackedLinear {
    const spec = this.model.graph.weights[l.w]!;
    const packed = PackedWeight.pack(w, w.dtype === "i8" ? (scales ?? this.#scales(l, 0, l.n)) : undefined, device);
    this.#owned.push(packed);
    if (w.dtype === "i8" && spec.actGroups) packed.setActivationGroups(spec.actGroups);
    if (w.dtype === "i8" && spec.actBits === 16) packed.setActivationBits(16);
    return { w: packed, bias };
  }

  #scales(l: ChainLinear, start: number, end: number): Tensor | undefined {
    const name = this.model.graph.weights[l.w]!.scales;
    if (!name) return undefined;
    const s = this.model.weights.get(name)!.data as Float32Array;
    return tensor("f32", [end - start], s.slice(start, end));
  }

  #bias(l: ChainLinear | undefined, start: number, end: number): DeviceBuffer | null {
    if (!l?.bias) return null;
    const b = new DeviceBuffer(0, Math.max(4, (end - start) * 4));
    this.#owned.push(b);
    b.upload((this.model.weights.get(l.bias)!.data as Float32Array).slice(start, end));
    return b;
  }

  describe(): DenseParallelReport {
    const ids = this.devices.map((d) => d.id);
    const deviceBytes = Object.fromEntries(ids.map((id) => [id, 0]));
    const groups = this.groups.map(({ group, parts }): DenseGroupReport => {
      const slices = parts.map((p, d) => {
        const cols = p.columns.end - p.columns.start;
        const bytes = group.kind === "rows" ? group.linears.reduce((a, l) => a + l.n * l.k * bytesOf[l.dtype]!, 0) : group.linears.reduce((a, l, i) => a + cols * (i === 0 ? l.k : l.n) * bytesOf[l.dtype]!, 0);
        // Core groups share a replicated chain's one packed copy: it counts once, on the first.
        if (group.kind !== "rows" || d === 0 || !sharesHostMemory(this.devices[d]!)) deviceBytes[ids[d]!]! += bytes;
        const total = this.speeds.reduce((a, b) => a + b, 0);
        return { device: ids[d]!, columns: [p.columns.start, p.columns.end] as [number, number], bytes, ...(group.kind === "rows" ? { rowShare: this.speeds[d]! / total } : {}) };
      });
      return { kind: group.kind, linears: group.linears.map((l) => l.node), widths: [group.linears[0]!.k, ...group.linears.map((l) => l.n)], dtype: group.linears.map((l) => l.dtype), slices };
    });
    return { strategy: this.strategy, devices: ids, groups, deviceBytes };
  }

  stats(): DenseParallelStats {
    return { devices: this.devices.map((d) => ({ ...d.describe(), busyMs: d.stats().busyMs })), ...this.counters };
  }

  dispose(): void {
    for (const o of this.#owned) o.dispose();
    this.#owned.length = 0;
    for (const b of this.#scratch.values()) b.dispose();
    this.#scratch.clear();
    this.#byFirstNode.clear();
    if (this.#ownsDevices) for (const d of this.devices ?? []) d.dispose();
  }
}

function weight(weights: Map<string, Tensor>, name: string): Tensor {
  const t = weights.get(name);
  if (!t) throw new RankfnError(`parallel.dense: weight "${name}" is not in the model`, "internal", 500);
  return t;
}

/** Rows [start, end) of a [n, k] weight, contiguous. */
function rowSlice(w: Tensor, start: number, end: number): Tensor {
  const k = w.shape[1]!;
  return tensor(w.dtype, [end - start, k], w.data.slice(start * k, end * k) as never);
}

/** Columns [start, end) of a [n, k] weight, copied contiguous. */
function columnSlice(w: Tensor, start: number, end: number): Tensor {
  const [n, k] = w.shape as [number, number];
  const width = end - start;
  const src = w.data as Float32Array;
  const out = new (src.constructor as Float32ArrayConstructor)(n * width);
  for (let j = 0; j < n; j++) out.set(src.subarray(j * k + start, j * k + end), j * width);
  return tensor(w.dtype, [n, width], out as never);
}
