// The per-table descriptors of one multi-table lookup (rf_bag_table_t [n],
// rankfn.h): what rf_embedding_bags and a queued RF_CMD_EMBEDDING_BAGS
// command read. They live in native memory (rf_malloc) so a queued command
// can point at them; the caller keeps them unchanged until the device's wait()
// returns, like every buffer they name.
import { TensorError } from "../errors";
import type { Address } from "./commands";
import { DeviceBuffer } from "./device";

export const BAG_TABLE_BYTES = 88;

/** One table's part of a lookup; addresses are native (ptr(), arena, rf_malloc). */
export interface BagTableFields {
  table: Address;
  ids: Address;
  /** int64 [bags + 1]. */
  offsets: Address;
  /** Per-id weights or null. */
  weights: Address;
  /** The first bag's output; bags are `ldo` floats apart. */
  out: Address;
  rows: number;
  dim: number;
  numIds: number;
  ldo: number;
  /** rf_dtype codes of the rows and the ids; rf_pool_mode. */
  tableDtype: number;
  idDtype: number;
  mode: number;
}

/** A reusable rf_bag_table_t array of up to `capacity` tables. */
export class BagTables {
  readonly #buffer: DeviceBuffer;
  readonly #view: DataView;
  #count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TensorError(`BagTables: capacity must be an integer >= 1, got ${capacity}`);
    this.#buffer = new DeviceBuffer(0, capacity * BAG_TABLE_BYTES);
    this.#view = new DataView(this.#buffer.view());
  }

  /** Tables set since the last reset(). */
  get length(): number {
    return this.#count;
  }

  /** What a command's `a` (or rf_embedding_bags' `tables`) holds. */
  get address(): number {
    return this.#buffer.ptr as number;
  }

  reset(): void {
    this.#count = 0;
  }

  /** Append one table (do not call while a command naming these descriptors may still run). */
  push(f: BagTableFields): void {
    if (this.#count === this.capacity) throw new TensorError(`BagTables: more than ${this.capacity} tables`);
    const v = this.#view;
    const o = this.#count++ * BAG_TABLE_BYTES;
    const word = (at: number, x: Address | number) => {
      const n = (x ?? 0) as number;
      v.setUint32(o + at, n % 0x1_0000_0000, true);
      v.setUint32(o + at + 4, Math.floor(n / 0x1_0000_0000), true);
    };
    word(0, f.table);
    word(8, f.ids);
    word(16, f.offsets);
    word(24, f.weights);
    word(32, f.out);
    word(40, f.rows);
    word(48, f.dim);
    word(56, f.numIds);
    word(64, f.ldo);
    v.setInt32(o + 72, f.tableDtype, true);
    v.setInt32(o + 76, f.idDtype, true);
    v.setInt32(o + 80, f.mode, true);
    v.setInt32(o + 84, 0, true);
  }

  dispose(): void {
    this.#buffer.dispose();
  }
}
