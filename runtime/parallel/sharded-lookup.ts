// One pooled-lookup node (embedding_bag / embedding_bags) of one plan, run over
// the devices that hold its tables' shards. Each device looks up its part of
// the batch in queued rf_embedding_bags commands (one over its tables' every
// bag, one over its share of the bags), concurrently with the others:
// - table-wise: its whole tables, every bag;
// - column-wise: its column slice of every row, every bag, written into that
//   slice of each pooled vector;
// - row-wise: the ids routed to its row range (re-based to the shard), every
//   bag summed (a mean becomes a sum weighted by 1 / the bag's length), the
//   partial sums added afterwards;
// - replicate: its contiguous share of the bags, every table.
// The pooled rows land in the concatenated interaction input: a core group
// writes them there in place (shared host memory); a device with memory of its
// own (an OpenCL sub-device) gets its ids copied into that memory, pools into
// its own buffer and copies it back, from where the rows are placed (or added).
// A device failing fails this batch only (DeviceError). An id outside its table
// is the request's fault (400): the validator checks graph inputs, and ids it
// did not see (computed ones, or any routed by row) are checked here before any
// device runs.
import { type Pointer, ptr } from "bun:ffi";
import { runAll } from "../devices";
import { DeviceError } from "../devices/device";
import { RankfnError } from "../errors";
import { BagTables } from "../ffi/bag-tables";
import { CommandList } from "../ffi/commands";
import { DeviceBuffer } from "../ffi/device";
import { type PoolMode, poolModes } from "../ffi/activations";
import { check, native } from "../ffi/native";
import { type TypedArray, dtypes } from "../tensor/dtype";
import { contiguousSpans, type Span } from "../sequence-parallel/sharding";
import type { TableShard } from "./embedding-placement";
import type { EmbeddingSharding } from "./embedding-sharding";
import { type ShardRows, sharesHostMemory } from "./table-shards";

/** One table of the node as its step prepares it (steps/sparse.ts bagSource). */
export interface LookupTable {
  /** The table's weight name and the ids input's name (errors name it). */
  name: string;
  input: string;
  mode: PoolMode;
  /** Ids per row at most. */
  width: number;
  /** Compact this batch's ids (padding dropped, modulo folded); returns their count. */
  prepare(rows: number): number;
  /** The ids to pool and the bag boundaries (int64, [capacity + 1]), as prepare() left them. */
  readonly ids: Int32Array | BigInt64Array;
  offsets: BigInt64Array;
  /** The ids were range-checked when the request was validated (a graph input). */
  checked: boolean;
  /** The pooled output: `data` starts at row 0, rows `ld` floats apart. */
  out: { data: Float32Array; ld: number };
}

interface Job {
  table: number;
  shard: TableShard;
  rows: ShardRows;
  /** Writes the final output itself (else into its device's local buffer at column `localColumn`). */
  inPlace: boolean;
  localColumn: number;
  /** Placed by adding to what is there (row-wise partial sums after the first). */
  accumulate: boolean;
  /** Row-wise: the ids routed here (re-based), their bags and weights (means). */
  routed?: { ids: Int32Array; offsets: BigInt64Array; off32: Int32Array; weights?: Float32Array; count: number };
  /** Replicated: this device's bags' offsets, re-based to its first bag. */
  rebased?: { offsets: BigInt64Array; off32: Int32Array };
  /** Devices with their own memory: the copies of the job's inputs there. */
  copies?: { ids: DeviceBuffer; offsets: DeviceBuffer; weights: DeviceBuffer };
}

interface DeviceWork {
  direct: boolean;
  jobs: Job[];
  /** Floats per row of the local buffer (the widths of the jobs that do not write in place). */
  width: number;
  /** Host memory the not-in-place jobs' pooled rows are placed from; a copy of `own` on other devices. */
  local?: DeviceBuffer;
  own?: DeviceBuffer;
  whole: BagTables;
  share: BagTables;
  list: CommandList;
}

const SUM = poolModes.indexOf("sum");
const I32 = 5, I64 = 6;
const address = (a: TypedArray): number => (a.byteLength > 0 ? (ptr(a) as number) : 0);

export class ShardedLookup {
  readonly #work: DeviceWork[];
  readonly #rowJobs: Job[][];
  readonly #owned: DeviceBuffer[] = [];
  readonly #identity: DeviceBuffer;

  constructor(
    readonly node: string,
    readonly sharding: EmbeddingSharding,
    readonly tables: readonly LookupTable[],
    readonly capacity: number,
  ) {
    const devices = sharding.devices;
    this.#work = devices.map((d): DeviceWork => ({ direct: sharesHostMemory(d), jobs: [], width: 0, whole: new BagTables(Math.max(1, tables.length)), share: new BagTables(Math.max(1, tables.length)), list: new CommandList(4 + 4 * tables.length) }));
    this.#rowJobs = tables.map(() => []);
    tables.forEach((t, i) => {
      const { table, shards } = sharding.shardsOf(t.name);
      for (const { shard, rows } of shards) {
        const w = this.#work[shard.device]!;
        const job: Job = { table: i, shard, rows, inPlace: w.direct, localColumn: 0, accumulate: false };
        if (table.strategy === "row") {
          const ids = new Int32Array(capacity * t.width);
          const offsets = new BigInt64Array(capacity + 1);
          job.routed = { ids, offsets, off32: new Int32Array(offsets.buffer), weights: t.mode === "mean" ? new Float32Array(capacity * t.width) : undefined, count: 0 };
          this.#rowJobs[i]!.push(job);
        }
        if (table.strategy === "replicate") {
          const offsets = new BigInt64Array(capacity + 1);
          job.rebased = { offsets, off32: new Int32Array(offsets.buffer) };
        }
        w.jobs.push(job);
      }
      // Row-wise partial sums: the first core group writes in place, every other shard is added.
      const parts = this.#rowJobs[i]!;
      const first = parts.find((j) => j.inPlace) ?? parts[0];
      for (const j of parts) {
        j.inPlace = j === first && j.inPlace;
        j.accumulate = j !== first;
      }
    });
    this.#work.forEach((w, d) => {
      for (const j of w.jobs) {
        if (j.inPlace) continue;
        j.localColumn = w.width;
        w.width += j.rows.dim;
      }
      if (w.width > 0) w.local = this.#buffer(0, capacity * w.width * 4);
      if (w.direct) return;
      const device = devices[d]!.backendDevice;
      if (w.width > 0) w.own = this.#buffer(device, capacity * w.width * 4);
      for (const j of w.jobs) {
        const width = tables[j.table]!.width;
        j.copies = { ids: this.#buffer(device, capacity * width * 8), offsets: this.#buffer(device, (capacity + 1) * 8), weights: this.#buffer(device, capacity * width * 4) };
      }
    });
    this.#identity = this.#buffer(0, capacity * 4);
    new Int32Array(this.#identity.view()).set(Int32Array.from({ length: capacity }, (_, i) => i));
  }

  /** Look up `rows` bags of every table over the devices, into the tables' outputs. */
  run(rows: number): void {
    if (rows === 0) return;
    const counts = this.tables.map((t) => t.prepare(rows));
    this.tables.forEach((t, i) => {
      if (this.#rowJobs[i]!.length > 0) this.#route(i, rows);
      else if (!t.checked) this.#checkRange(i, counts[i]!);
    });
    const spans = contiguousSpans(rows, this.sharding.devices.length);
    let copied = 0;
    this.#work.forEach((w, d) => {
      w.whole.reset();
      w.share.reset();
      w.list.reset();
      for (const j of w.jobs) copied += this.#queue(w, j, rows, counts[j.table]!, spans[d]!, d);
      if (w.whole.length > 0) w.list.embeddingBags(w.whole.length, w.whole.address, rows);
      if (w.share.length > 0 && spans[d]!.end > spans[d]!.start) w.list.embeddingBags(w.share.length, w.share.address, spans[d]!.end - spans[d]!.start);
      if (w.own && w.width > 0) {
        // The pooled rows back to host memory: every row, or only this device's share when it only holds replicas.
        const span = w.jobs.some((j) => !j.rebased) ? { start: 0, end: rows } : spans[d]!;
        const at = span.start * w.width * 4, bytes = (span.end - span.start) * w.width * 4;
        if (bytes > 0) w.list.memcpy((w.local!.ptr as number) + at, (w.own.ptr as number) + at, bytes);
        copied += bytes;
      }
    });
    const stats = this.sharding.counters;
    try {
      runAll(this.sharding.devices, this.#work.map((w) => w.list));
    } catch (failure) {
      stats.failedBatches++;
      throw failure instanceof DeviceError ? new DeviceError(`sharded embeddings "${this.node}": ${failure.message}`, failure.device) : failure;
    }
    this.#place(rows, spans, false);
    this.#place(rows, spans, true);
    stats.batches++;
    stats.copiedBytes += copied;
  }

  /** Add job `j`'s lookup to its device's command; returns the input bytes copied to the device. */
  #queue(w: DeviceWork, j: Job, rows: number, count: number, span: Span, d: number): number {
    const t = this.tables[j.table]!;
    // The arrays this job reads: ids from `idStart` on, `bags` + 1 offsets, per-id weights (or none).
    let ids: Int32Array | BigInt64Array = t.ids, idStart = 0, offsets = t.offsets, weights: Float32Array | undefined;
    let numIds = count, mode = poolModes.indexOf(t.mode), bags = rows, first = 0;
    if (j.routed) {
      ids = j.routed.ids;
      offsets = j.routed.offsets;
      weights = j.routed.weights;
      numIds = j.routed.count;
      mode = SUM;
    } else if (j.rebased) {
      first = span.start;
      bags = span.end - span.start;
      if (bags === 0) return 0;
      const off32 = new Int32Array(t.offsets.buffer, t.offsets.byteOffset, 2 * (rows + 1));
      idStart = off32[2 * span.start]!;
      for (let b = 0; b <= bags; b++) j.rebased.off32[2 * b] = off32[2 * (span.start + b)]! - idStart;
      numIds = off32[2 * span.end]! - idStart;
      offsets = j.rebased.offsets;
    }
    this.sharding.deviceIds[d]! += numIds;
    let moved = 0;
    let idsAt = address(ids) + idStart * ids.BYTES_PER_ELEMENT, offsetsAt = address(offsets), weightsAt = weights ? address(weights) : 0;
    if (j.copies) {
      // Into the device's own memory before the lookup is issued (the backend checks ids and
      // offsets as it issues it): a copy that completes before this returns.
      const upload = (dst: DeviceBuffer, src: TypedArray) => {
        if (src.byteLength > 0) dst.upload(src);
        moved += src.byteLength;
        return dst.ptr as number;
      };
      idsAt = upload(j.copies.ids, ids.subarray(idStart, idStart + numIds));
      offsetsAt = upload(j.copies.offsets, offsets.subarray(0, bags + 1));
      weightsAt = weights ? upload(j.copies.weights, weights.subarray(0, numIds)) : 0;
    }
    const out = j.inPlace
      ? address(t.out.data) + (first * t.out.ld + j.shard.columns.start) * 4
      : ((w.own ?? w.local)!.ptr as number) + (first * w.width + j.localColumn) * 4;
    const table = j.rows.device ? (j.rows.device.ptr as number) : address(j.rows.host);
    (j.rebased ? w.share : w.whole).push({
      table, ids: idsAt, offsets: offsetsAt, weights: weightsAt, out, rows: j.rows.rows, dim: j.rows.dim, numIds,
      ldo: j.inPlace ? t.out.ld : w.width, tableDtype: dtypes[this.sharding.shardsOf(t.name).table.dtype].code, idDtype: ids instanceof BigInt64Array ? I64 : I32, mode,
    });
    return moved;
  }

  /** Row-wise table `i`: each id to the shard holding its row, re-based; bag boundaries per shard. */
  #route(i: number, rows: number): void {
    const t = this.tables[i]!;
    const parts = this.#rowJobs[i]!;
    const n = parts.length;
    const tableRows = this.sharding.shardsOf(t.name).table.rows;
    const wide = t.ids instanceof BigInt64Array;
    const step = wide ? 2 : 1;
    const src = new Int32Array(t.ids.buffer, t.ids.byteOffset, t.ids.length * step);
    const off32 = new Int32Array(t.offsets.buffer, t.offsets.byteOffset, 2 * (rows + 1));
    const mean = t.mode === "mean";
    // The shards' row ranges are contiguous: shard s holds [bounds[s], bounds[s + 1]). Ids are
    // below 2^31 (a table has fewer rows), so an i64 id with a nonzero high word is out of range.
    const bounds = Int32Array.from([...parts.map((p) => p.shard.rows.start), parts[n - 1]!.shard.rows.end]);
    const first = bounds[0]!, last = bounds[n]!;
    const ids = parts.map((p) => p.routed!.ids);
    const weights = parts.map((p) => p.routed!.weights);
    const starts = parts.map((p) => p.routed!.off32);
    const counts = new Int32Array(n);
    const scale = n / tableRows;
    for (let b = 0; b < rows; b++) {
      const a = off32[2 * b]!, e = off32[2 * b + 2]!;
      for (let s = 0; s < n; s++) starts[s]![2 * b] = counts[s]!;
      const weight = mean && e > a ? Math.fround(1 / (e - a)) : 1;
      for (let k = a; k < e; k++) {
        const v = src[k * step]!;
        if ((wide && src[k * step + 1] !== 0) || v < first || v >= last) throw this.#outOfRange(t, wide ? Number((t.ids as BigInt64Array)[k]) : v, tableRows);
        let s = (v * scale) | 0;
        if (s >= n) s = n - 1;
        while (v < bounds[s]!) s--;
        while (v >= bounds[s + 1]!) s++;
        const c = counts[s]!++;
        ids[s]![c] = v - bounds[s]!;
        if (mean) weights[s]![c] = weight;
      }
    }
    parts.forEach((p, s) => {
      p.routed!.off32[2 * rows] = counts[s]!;
      p.routed!.count = counts[s]!;
    });
  }

  /** Ids the validator did not see (computed ones) must fall in their table before any device reads them. */
  #checkRange(i: number, count: number): void {
    const t = this.tables[i]!;
    const tableRows = this.sharding.shardsOf(t.name).table.rows;
    const wide = t.ids instanceof BigInt64Array;
    const src = new Int32Array(t.ids.buffer, t.ids.byteOffset, t.ids.length * (wide ? 2 : 1));
    for (let k = 0; k < count; k++) {
      const v = wide ? src[2 * k + 1]! * 4294967296 + (src[2 * k]! >>> 0) : src[k]!;
      if (!(v >= 0 && v < tableRows)) throw this.#outOfRange(t, v, tableRows);
    }
  }

  #outOfRange(t: LookupTable, id: number, rows: number): RankfnError {
    return new RankfnError(`input "${t.input}": id ${id} is outside table "${t.name}" (${rows} rows)`, "id_out_of_range", 400);
  }

  /** Pooled rows from the local buffers into the outputs: copies first, then the partial sums added. */
  #place(rows: number, spans: Span[], adding: boolean): void {
    const identity = this.#identity.ptr;
    this.#work.forEach((w, d) => {
      for (const j of w.jobs) {
        if (j.inPlace || j.accumulate !== adding) continue;
        const span = j.rebased ? spans[d]! : { start: 0, end: rows };
        const n = span.end - span.start;
        if (n === 0) continue;
        const t = this.tables[j.table]!;
        const src = (w.local!.ptr as number) + (span.start * w.width + j.localColumn) * 4;
        const dst = address(t.out.data) + (span.start * t.out.ld + j.shard.columns.start) * 4;
        if (adding) check(native().rf_scatter_add_rows(null, n, j.rows.dim, src as Pointer, w.width, identity, null, dst as Pointer, t.out.ld, n), "rf_scatter_add_rows");
        else check(native().rf_gather_rows(null, n, j.rows.dim, src as Pointer, w.width, n, identity, null, dst as Pointer, t.out.ld), "rf_gather_rows");
      }
    });
  }

  #buffer(device: number, bytes: number): DeviceBuffer {
    const b = new DeviceBuffer(device, Math.max(64, bytes));
    this.#owned.push(b);
    return b;
  }

  dispose(): void {
    for (const b of this.#owned) b.dispose();
    this.#owned.length = 0;
    for (const w of this.#work) {
      w.whole.dispose();
      w.share.dispose();
    }
  }
}
