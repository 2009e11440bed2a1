// Command lists for rf_stream_enqueue: each entry is one rf_cmd_t (96 bytes)
// naming an existing op and its arguments by native address. A list is
// encoded once per batch into a reusable buffer; the native side copies it.
import type { Pointer } from "bun:ffi";
import { TensorError } from "../errors";

export const CMD_BYTES = 96;

export const CommandOp = { gemm: 0, gatherRows: 1, scatterAddRows: 2, memcpy: 3, fail: 4, seqAttention: 5, hstuAttention: 6, embeddingBags: 7 } as const;

/** A native address (arena, rf_malloc memory, packed weight) or null. */
export type Address = number | Pointer | null;

/** A growable array of rf_cmd_t, reset and refilled for every batch. */
export class CommandList {
  #bytes: Uint8Array;
  #view: DataView;
  #count = 0;

  constructor(capacity = 64) {
    this.#bytes = new Uint8Array(capacity * CMD_BYTES);
    this.#view = new DataView(this.#bytes.buffer);
  }

  get length(): number {
    return this.#count;
  }

  /** The encoded commands (valid until the next push or reset). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  reset(): void {
    this.#count = 0;
  }

  /** y[m, ldy] = act(x · Wᵀ + bias) (+ residual) */
  gemm(m: number, x: Address, ldx: number, w: Address, bias: Address, act: number, y: Address, ldy: number, residual: Address = null, ldr = 0): void {
    this.#push(CommandOp.gemm, act, m, 0, 0, ldx, ldr, ldy, x, bias, residual, y, w);
  }

  /** dst[i] = (weights ? weights[i] : 1) · src[idx[i]] for i < rows */
  gatherRows(rows: number, width: number, src: Address, lds: number, srcRows: number, idx: Address, weights: Address, dst: Address, ldd: number): void {
    this.#push(CommandOp.gatherRows, 0, rows, width, srcRows, lds, 0, ldd, src, idx, weights, dst, null);
  }

  /** dst[idx[i]] += (weights ? weights[i] : 1) · src[i] for i < rows */
  scatterAddRows(rows: number, width: number, src: Address, lds: number, idx: Address, weights: Address, dst: Address, ldd: number, dstRows: number): void {
    this.#push(CommandOp.scatterAddRows, 0, rows, width, dstRows, lds, 0, ldd, src, idx, weights, dst, null);
  }

  /** A device-to-device copy of `bytes` (kind 2). */
  memcpy(dst: Address, src: Address, bytes: number): void {
    this.#push(CommandOp.memcpy, 2, bytes, 0, 0, 0, 0, 0, src, null, null, dst, null);
  }

  /** A command that fails with `status` (fault injection). */
  fail(status = 5): void {
    this.#push(CommandOp.fail, status, 0, 0, 0, 0, 0, 0, null, null, null, null, null);
  }

  /** rf_seq_attention_lse with the arguments at `args` (an AttentionCall's address, kept alive until the wait). */
  seqAttention(args: Address): void {
    this.#push(CommandOp.seqAttention, 0, 0, 0, 0, 0, 0, 0, args, null, null, null, null);
  }

  /** rf_hstu_attention with the arguments at `args` (an AttentionCall's address, kept alive until the wait). */
  hstuAttention(args: Address): void {
    this.#push(CommandOp.hstuAttention, 0, 0, 0, 0, 0, 0, 0, args, null, null, null, null);
  }

  /** rf_embedding_bags over the `tables` rf_bag_table_t at `descriptors` (a BagTables' address, kept alive until the wait), `bags` bags each. */
  embeddingBags(tables: number, descriptors: Address, bags: number): void {
    this.#push(CommandOp.embeddingBags, 0, tables, bags, 0, 0, 0, 0, descriptors, null, null, null, null);
  }

  #push(op: number, arg: number, m: number, n: number, k: number, lda: number, ldc: number, ldd: number, a: Address, b: Address, c: Address, d: Address, w: Address): void {
    if (this.#count * CMD_BYTES === this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    const v = this.#view;
    const o = this.#count++ * CMD_BYTES;
    v.setInt32(o, op, true);
    v.setInt32(o + 4, arg, true);
    const ints = [m, n, k, lda, ldc, ldd];
    for (let i = 0; i < 6; i++) setWord(v, o + 8 + i * 8, ints[i]!);
    const ptrs = [a, b, c, d, w];
    for (let i = 0; i < 5; i++) setWord(v, o + 56 + i * 8, (ptrs[i] ?? 0) as number);
  }
}

/** A non-negative safe integer as a little-endian 64-bit word (no BigInt on the hot path). */
function setWord(v: DataView, at: number, x: number): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new TensorError(`command field must be a non-negative integer, got ${x}`);
  v.setUint32(at, x % 0x1_0000_0000, true);
  v.setUint32(at + 4, Math.floor(x / 0x1_0000_0000), true);
}
