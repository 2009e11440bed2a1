// The stored rows of one table shard, in the table's own encoding: a row range
// is a view of the table's bytes (no copy), a column slice is a copy holding
// the slice of every row (u8q / u4q rows keep their own fp16 scale and bias, so
// every value decodes exactly as in the whole table). On a device with memory
// of its own (OpenCL) the shard is copied into that device's memory, once.
import type { Device } from "../devices";
import { DeviceBuffer } from "../ffi/device";
import { rowBytes, type RowDType } from "../embeddings/row-codec";
import type { Tensor } from "../tensor/tensor";
import type { Span } from "../sequence-parallel/sharding";
import { RankfnError } from "../errors";

export interface ShardRows {
  /** The shard's rows (host memory: a view of the table or a copy of a column slice). */
  host: Uint8Array;
  /** The same bytes in the device's own memory (devices that do not share host memory). */
  device?: DeviceBuffer;
  rows: number;
  dim: number;
}

/** Does `device` read host memory in place (a CPU core group), or need copies in its own memory? */
export const sharesHostMemory = (device: Device): boolean => device.deviceKind === "cpu";

/** Bytes of a shard of `rows` rows of `columns` of a table stored as `dtype`. */
export function shardBytes(dtype: RowDType, columns: Span, rows: number): number {
  return rows * rowBytes(dtype, columns.end - columns.start);
}

/** Rows `rows` × columns `columns` of `table` [rows, dim] as their own table, held where `device` reads it. */
export function tableShard(table: Tensor, rows: Span, columns: Span, device: Device): ShardRows {
  const dtype = table.dtype as RowDType;
  const dim = table.shape[1]!;
  const width = columns.end - columns.start;
  const rb = rowBytes(dtype, dim);
  const all = new Uint8Array(table.data.buffer, table.data.byteOffset, table.data.byteLength);
  const n = rows.end - rows.start;
  const host = width === dim ? all.subarray(rows.start * rb, rows.end * rb) : columnSlice(all.subarray(rows.start * rb, rows.end * rb), n, dtype, dim, columns);
  const shard: ShardRows = { host, rows: n, dim: width };
  if (!sharesHostMemory(device)) {
    shard.device = new DeviceBuffer(device.backendDevice, Math.max(64, host.byteLength));
    shard.device.upload(host);
  }
  return shard;
}

/** Columns [c0, c1) of each of `n` rows of dim `dim`, re-encoded as rows of that width. */
function columnSlice(src: Uint8Array, n: number, dtype: RowDType, dim: number, { start: c0, end: c1 }: Span): Uint8Array {
  const w = c1 - c0;
  const from = rowBytes(dtype, dim), to = rowBytes(dtype, w);
  const out = new Uint8Array(n * to);
  for (let r = 0; r < n; r++) {
    const row = src.subarray(r * from, (r + 1) * from);
    const dst = out.subarray(r * to, (r + 1) * to);
    switch (dtype) {
      case "f32":
      case "f16":
      case "bf16": {
        const e = dtype === "f32" ? 4 : 2;
        dst.set(row.subarray(c0 * e, c1 * e));
        break;
      }
      case "u8q":
        dst.set(row.subarray(c0, c1));
        dst.set(row.subarray(dim, dim + 4), w);
        break;
      case "u4q": {
        // Nibbles re-packed from column c0 (even columns in the low nibble), then the row's scale and bias.
        for (let c = c0; c < c1; c++) {
          const q = (row[c >> 1]! >> (4 * (c & 1))) & 15;
          const j = c - c0;
          dst[j >> 1]! |= q << (4 * (j & 1));
        }
        const half = (dim + 1) >> 1;
        dst.set(row.subarray(half, half + 4), (w + 1) >> 1);
        break;
      }
      default:
        throw new RankfnError(`parallel.embeddings: a table stored as ${String(dtype)} cannot be split by columns`, "bad_option", 400);
    }
  }
  return out;
}
