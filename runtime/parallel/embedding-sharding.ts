// Sharded embedding tables of one model (issue 20): its devices (opened from a
// spec or given), where each pooled table's shards live (embedding-placement),
// the shards' rows held where their device reads them (table-shards), and the
// counters inspect() and stats() report. Shared by every batch-size plan; each
// plan's lookup steps (sharded-lookup.ts) run their batches over it.
import { type Device, openDevices } from "../devices";
import type { DeviceDescription } from "../devices/device";
import { RankfnError } from "../errors";
import type { BuiltModel } from "../graph/builder";
import { rowBytes, rowDTypes, type RowDType } from "../embeddings/row-codec";
import { type EmbeddingPlacement, type PlacedTable, type TableShard, placeTables } from "./embedding-placement";
import { type EmbeddingParallelism, type EmbeddingStrategy, strategyOfTables } from "./parallel-options";
import { type ShardRows, shardBytes, tableShard } from "./table-shards";

export interface EmbeddingShardingConfig {
  devices: string | Device[];
  embeddings: EmbeddingParallelism;
}

/** One table's placement as inspect() shows it. */
export interface TablePlacementReport {
  table: string;
  strategy: EmbeddingStrategy;
  rows: number;
  dim: number;
  dtype: string;
  shards: { device: string; rows: [number, number]; columns: [number, number]; bytes: number }[];
}

export interface EmbeddingShardingReport {
  devices: string[];
  tables: TablePlacementReport[];
  /** Bytes of table shards per device id. */
  deviceBytes: Record<string, number>;
}

export interface EmbeddingShardingStats {
  devices: (DeviceDescription & { busyMs: number })[];
  /** Lookup calls (one node of one batch) run over the devices, and those a device failed. */
  batches: number;
  failedBatches: number;
  /** Ids each device looked up since load. */
  deviceIds: number[];
  /** Bytes copied between devices (inputs to, pooled rows from, devices with memory of their own). */
  copiedBytes: number;
}

/** The tables pooled lookups (embedding_bag, embedding_bags) read, in node order. */
export function pooledTables(model: BuiltModel): string[] {
  const names: string[] = [];
  for (const node of model.graph.nodes) {
    const t = node.op === "embedding_bag" ? [node.inputs[1]!] : node.op === "embedding_bags" ? node.inputs.slice(node.inputs.length / 2) : [];
    for (const name of t) if (!names.includes(name)) names.push(name);
  }
  return names;
}

export class EmbeddingSharding {
  readonly devices: Device[];
  readonly placement: EmbeddingPlacement;
  readonly tables: PlacedTable[];
  readonly counters = { batches: 0, failedBatches: 0, copiedBytes: 0 };
  readonly deviceIds: Float64Array;
  readonly #ownsDevices: boolean;
  readonly #storage = new Map<string, { table: PlacedTable; shards: { shard: TableShard; rows: ShardRows }[] }>();

  /** `model` is the compiled model (its tables as the lookups read them, quantized or not). */
  constructor(model: BuiltModel, config: EmbeddingShardingConfig) {
    const names = pooledTables(model);
    const strategies = strategyOfTables(config.embeddings, names);
    this.tables = names.map((name) => {
      const t = model.weights.get(name)!;
      if (!rowDTypes.includes(t.dtype as RowDType)) throw new RankfnError(`parallel.embeddings: table "${name}" is ${t.dtype}; sharded tables hold ${rowDTypes.join(", ")} rows`, "bad_dtype", 400);
      return { name, dtype: t.dtype as RowDType, rows: t.shape[0]!, dim: t.shape[1]!, rowBytes: rowBytes(t.dtype as RowDType, t.shape[1]!), strategy: strategies.get(name)! };
    });
    this.#ownsDevices = typeof config.devices === "string";
    this.devices = typeof config.devices === "string" ? openDevices(config.devices) : config.devices;
    try {
      const speeds = this.devices.map((d) => Math.max(1, d.stats().threads));
      this.placement = placeTables(this.tables, speeds, (t, columns, rows) => shardBytes(t.dtype, columns, rows));
      this.tables.forEach((t, i) => {
        const weight = model.weights.get(t.name)!;
        const shards = this.placement.shards[i]!.map((shard) => ({ shard, rows: tableShard(weight, shard.rows, shard.columns, this.devices[shard.device]!) }));
        this.#storage.set(t.name, { table: t, shards });
      });
    } catch (err) {
      this.dispose();
      throw err;
    }
    this.deviceIds = new Float64Array(this.devices.length);
  }

  /** The placement and stored rows of table `name`. */
  shardsOf(name: string): { table: PlacedTable; shards: { shard: TableShard; rows: ShardRows }[] } {
    const s = this.#storage.get(name);
    if (!s) throw new RankfnError(`parallel.embeddings: table "${name}" has no shards`, "internal", 500);
    return s;
  }

  describe(): EmbeddingShardingReport {
    const ids = this.devices.map((d) => d.id);
    return {
      devices: ids,
      tables: this.tables.map((t, i) => ({
        table: t.name,
        strategy: t.strategy,
        rows: t.rows,
        dim: t.dim,
        dtype: t.dtype,
        shards: this.placement.shards[i]!.map((s) => ({ device: ids[s.device]!, rows: [s.rows.start, s.rows.end], columns: [s.columns.start, s.columns.end], bytes: s.bytes })),
      })),
      deviceBytes: Object.fromEntries(this.placement.deviceBytes.map((b, d) => [ids[d]!, b])),
    };
  }

  stats(): EmbeddingShardingStats {
    return { devices: this.devices.map((d) => ({ ...d.describe(), busyMs: d.stats().busyMs })), ...this.counters, deviceIds: Array.from(this.deviceIds) };
  }

  dispose(): void {
    for (const { shards } of this.#storage.values()) for (const s of shards) s.rows.device?.dispose();
    this.#storage.clear();
    if (this.#ownsDevices) for (const d of this.devices ?? []) d.dispose();
  }
}
