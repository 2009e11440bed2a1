// Attention of one sequence's queries over a long kv split into contiguous
// shards, one per device (sequence parallelism of the attention op alone):
// each device runs its shard with the absolute key positions (softmax: with
// the shard's log-sum-exp, rf_seq_attention_lse; HSTU: with the global
// norm_len), then the parts merge on the calling thread (rf_attention_merge:
// LSE rescaling, or a sum). Equals the unsplit call within float rounding.
import { type Device, waitAll } from "../devices";
import { TensorError } from "../errors";
import { AttentionCall } from "../ffi/attention-args";
import { CommandList } from "../ffi/commands";
import { check, native } from "../ffi/native";
import { seqMasks } from "../ffi/sequence-ops";
import { addressOf } from "./hstu-parallel";
import { contiguousSpans } from "./sharding";

export interface ShardedAttentionArgs {
  kind: "softmax" | "hstu";
  heads: number;
  d: number;
  dv: number;
  /** q [nq][heads·d], k [nk][heads·d], v [nk][heads·dv], contiguous, in native-addressable memory. */
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  nq: number;
  nk: number;
  scale: number;
  /** HSTU: the divisor n (default nk, the whole kv's length: every shard divides by it). */
  normLen?: number;
  /** Relative bias [heads][buckets] with absolute positions (qPos [nq], kvPos [nk]). */
  rab?: { table: Float32Array; buckets: number; qPos: BigInt64Array; kvPos: BigInt64Array };
  /** out [nq][heads·dv]. */
  out: Float32Array;
}

/** Reusable per-device buffers of the split (parts, lse, argument structs). */
export class ShardedAttention {
  readonly #calls: AttentionCall[];
  readonly #offsets: BigInt64Array[];
  readonly #lists: CommandList[];
  #parts = new Float32Array(0);
  #lse = new Float32Array(0);

  constructor(readonly devices: readonly Device[]) {
    if (devices.length < 1) throw new TensorError("shardedAttention: needs at least one device");
    this.#calls = devices.map(() => new AttentionCall());
    this.#offsets = devices.map(() => new BigInt64Array(4));
    this.#lists = devices.map(() => new CommandList(1));
  }

  /** Run `a` split over the devices; returns a.out. */
  run(a: ShardedAttentionArgs): Float32Array {
    const S = this.devices.length, hd = a.heads * a.d, hv = a.heads * a.dv;
    if (a.q.length < a.nq * hd || a.k.length < a.nk * hd || a.v.length < a.nk * hv || a.out.length < a.nq * hv) throw new TensorError("shardedAttention: q, k, v or out is shorter than its shape");
    if (a.nq === 0) return a.out;
    if (this.#parts.length < S * a.nq * hv) this.#parts = new Float32Array(S * a.nq * hv);
    if (this.#lse.length < S * a.nq * a.heads) this.#lse = new Float32Array(S * a.nq * a.heads);
    const softmax = a.kind === "softmax";
    const parts = addressOf(this.#parts), lse = addressOf(this.#lse);
    // A zero-length kv still needs a valid address: the shard reads nothing.
    const k = a.nk > 0 ? addressOf(a.k) : 0, v = a.nk > 0 ? addressOf(a.v) : 0;
    contiguousSpans(a.nk, S).forEach(({ start, end }, i) => {
      const off = this.#offsets[i]!;
      off.set([0n, BigInt(a.nq), 0n, BigInt(end - start)]);
      const call = this.#calls[i]!.set({
        batch: 1, heads: a.heads, d: a.d, dv: a.dv, q: addressOf(a.q), ldq: hd, qOffsets: addressOf(off, 0),
        k: k && k + start * hd * 4, ldk: hd, v: v && v + start * hv * 4, ldv: hv, kvOffsets: addressOf(off, 2),
        mask: seqMasks.indexOf("none"), scale: a.scale,
        rab: a.rab ? addressOf(a.rab.table) : 0, numBuckets: a.rab?.buckets ?? 0,
        qPos: a.rab && a.nk > 0 ? addressOf(a.rab.qPos) : 0, kvPos: a.rab && a.nk > 0 ? addressOf(a.rab.kvPos, start) : 0,
        normLen: a.normLen ?? Math.max(a.nk, 1), out: parts + i * a.nq * hv * 4, ldo: hv,
        lse: softmax ? lse + i * a.nq * a.heads * 4 : 0,
      });
      const list = this.#lists[i]!;
      list.reset();
      if (softmax) list.seqAttention(call.address);
      else list.hstuAttention(call.address);
      this.devices[i]!.submit(list);
    });
    waitAll(this.devices);
    check(native().rf_attention_merge(null, S, a.nq, a.heads, a.dv, this.#parts, hv, a.nq * hv, softmax ? this.#lse : null, a.nq * a.heads, a.out, hv), "rf_attention_merge");
    return a.out;
  }
}
