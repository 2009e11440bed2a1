// Where each embedding table's shards live (pure: no native calls):
// - table-wise: whole tables, heaviest first onto the device with the fewest
//   bytes per thread (greedy by bytes, so every device holds about the same);
// - row-wise: contiguous row ranges, one per device (uneven when the rows do
//   not divide; a device gets none when there are fewer rows than devices);
// - column-wise: contiguous column slices, one per device;
// - replicate: every device holds the whole table and looks up a contiguous
//   share of the batch's rows (data parallel over the stage).
import { contiguousSpans, type Span } from "../sequence-parallel/sharding";
import type { RowDType } from "../embeddings/row-codec";
import type { EmbeddingStrategy } from "./parallel-options";

export interface PlacedTable {
  name: string;
  dtype: RowDType;
  rows: number;
  dim: number;
  /** Bytes of one stored row. */
  rowBytes: number;
  strategy: EmbeddingStrategy;
}

export interface TableShard {
  device: number;
  /** Rows [start, end) of the table it holds. */
  rows: Span;
  /** Columns [start, end) of every row it holds. */
  columns: Span;
  bytes: number;
}

export interface EmbeddingPlacement {
  /** Per table (in the given order): its shards, in device order, none empty. */
  shards: TableShard[][];
  /** Bytes of table shards each device holds. */
  deviceBytes: number[];
}

/** Place `tables` on devices of relative speeds `speeds` (e.g. their threads). */
export function placeTables(tables: readonly PlacedTable[], speeds: readonly number[], shardBytes: (t: PlacedTable, columns: Span, rows: number) => number): EmbeddingPlacement {
  const S = speeds.length;
  const deviceBytes = new Array<number>(S).fill(0);
  const shards: TableShard[][] = tables.map(() => []);
  const whole = (t: PlacedTable): Span => ({ start: 0, end: t.dim });
  const add = (i: number, shard: TableShard) => {
    shards[i]!.push(shard);
    deviceBytes[shard.device]! += shard.bytes;
  };
  tables.forEach((t, i) => {
    if (t.strategy === "row") {
      contiguousSpans(t.rows, S).forEach((rows, d) => rows.end > rows.start && add(i, { device: d, rows, columns: whole(t), bytes: shardBytes(t, whole(t), rows.end - rows.start) }));
    } else if (t.strategy === "column") {
      contiguousSpans(t.dim, S).forEach((columns, d) => columns.end > columns.start && add(i, { device: d, rows: { start: 0, end: t.rows }, columns, bytes: shardBytes(t, columns, t.rows) }));
    } else if (t.strategy === "replicate") {
      for (let d = 0; d < S; d++) add(i, { device: d, rows: { start: 0, end: t.rows }, columns: whole(t), bytes: shardBytes(t, whole(t), t.rows) });
    }
  });
  // Whole tables last, heaviest first, each onto the device with the fewest bytes per unit of speed.
  const byBytes = tables.map((t, i) => i).filter((i) => tables[i]!.strategy === "table");
  byBytes.sort((a, b) => tables[b]!.rows * tables[b]!.rowBytes - tables[a]!.rows * tables[a]!.rowBytes || a - b);
  for (const i of byBytes) {
    const t = tables[i]!;
    let best = 0;
    for (let d = 1; d < S; d++) if (deviceBytes[d]! / speeds[d]! < deviceBytes[best]! / speeds[best]!) best = d;
    add(i, { device: best, rows: { start: 0, end: t.rows }, columns: whole(t), bytes: shardBytes(t, whole(t), t.rows) });
  }
  return { shards, deviceBytes };
}
