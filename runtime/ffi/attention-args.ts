// One queued attention call's arguments (rf_attention_args_t, rankfn.h): the
// struct a RF_CMD_SEQ_ATTENTION / RF_CMD_HSTU_ATTENTION command points to. It
// lives in a reusable native-addressable buffer that the caller keeps alive
// (and unchanged) until the device's wait() returns, like every buffer it names.
import { ptr } from "bun:ffi";
import type { Address } from "./commands";

export const ATTENTION_ARGS_BYTES = 176;

/** The fields of rf_attention_args_t; addresses are native (ptr(), arena, rf_malloc). */
export interface AttentionCallFields {
  batch: number;
  heads: number;
  d: number;
  dv: number;
  q: Address;
  ldq: number;
  qOffsets: Address;
  k: Address;
  ldk: number;
  v: Address;
  ldv: number;
  kvOffsets: Address;
  /** rf_seq_mask code. */
  mask: number;
  scale: number;
  numCandidates?: Address;
  rab?: Address;
  numBuckets?: number;
  qPos?: Address;
  kvPos?: Address;
  /** HSTU: the divisor n (0: the item's kv length). */
  normLen?: number;
  out: Address;
  ldo: number;
  /** Softmax: the per-(row, head) log-sum-exp output, [rows][heads]. */
  lse?: Address;
}

/** A reusable rf_attention_args_t; `address` is what a command's `a` holds. */
export class AttentionCall {
  readonly bytes = new Uint8Array(ATTENTION_ARGS_BYTES);
  readonly #view = new DataView(this.bytes.buffer);
  readonly address = ptr(this.bytes) as number;

  /** Overwrite every field (do not call while a command naming this struct may still run). */
  set(f: AttentionCallFields): this {
    const v = this.#view;
    const word = (o: number, x: Address | number | undefined) => v.setBigInt64(o, BigInt((x ?? 0) as number), true);
    word(0, f.batch);
    word(8, f.heads);
    word(16, f.d);
    word(24, f.dv);
    word(32, f.q);
    word(40, f.ldq);
    word(48, f.qOffsets);
    word(56, f.k);
    word(64, f.ldk);
    word(72, f.v);
    word(80, f.ldv);
    word(88, f.kvOffsets);
    v.setInt32(96, f.mask, true);
    v.setFloat32(100, f.scale, true);
    word(104, f.numCandidates);
    word(112, f.rab);
    word(120, f.numBuckets);
    word(128, f.qPos);
    word(136, f.kvPos);
    word(144, f.normLen);
    word(152, f.out);
    word(160, f.ldo);
    word(168, f.lse);
    return this;
  }
}
