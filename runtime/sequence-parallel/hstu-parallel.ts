// The two halves of an HSTU layer split over devices (sequence parallelism),
// for one request whose history is long enough (SequenceParallel.applies):
// - history (causal self-attention over nh events, new queries from `cached` on):
//   1. the W1 GEMMs (U|Q and K|V) by contiguous row slices, one per device; wait
//   2. attention by zig-zag query blocks (block i and 2S-1-i on device i; each
//      block's queries over kv [0, cached + end): the causal prefix, so every row is
//      computed whole by one device and written in place); wait
//   3. the norm gate on the calling thread (the library pool)
//   4. the W2 GEMM with the residual by row slices; wait
// - candidates of one request over its history: the history's kv split into
//   contiguous shards, one per device, each attended with its absolute key
//   positions and the GLOBAL norm_len L, into a part per device; wait; the parts
//   summed (rf_attention_merge without lse: HSTU's pointwise attention adds exactly).
// Commands name native addresses (the plan's arena and scratch are native
// memory); their argument structs live in this object until the wait.
import { type Pointer, ptr } from "bun:ffi";
import { AttentionCall } from "../ffi/attention-args";
import { CommandList } from "../ffi/commands";
import type { NativeSymbols } from "../ffi/library";
import { activations } from "../ffi/activations";
import { seqMasks } from "../ffi/sequence-ops";
import { contiguousSpans, zigzagBlocks } from "./sharding";
import type { SequenceParallel } from "./sequence-parallel";

const SILU = activations.indexOf("silu");
const IDENTITY = activations.indexOf("none");
const CAUSAL = seqMasks.indexOf("causal");
const NONE = seqMasks.indexOf("none");

type Typed = Float32Array | BigInt64Array;

/** The native address of element `i` of `a`. */
export const addressOf = (a: Typed, i = 0): number => (ptr(a) as number) + i * a.BYTES_PER_ELEMENT;

/** An HSTU layer's packed weights and constants (sequence-layers.ts hstuLayer). */
export interface HstuParams {
  H: number;
  qk: number;
  dv: number;
  hv: number;
  hq: number;
  scale: number;
  eps: number;
  wUq: Pointer;
  bUq: Float32Array;
  wKv: Pointer;
  bKv: Float32Array;
  w2: Pointer;
  b2: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  rab: Float32Array | null;
  buckets: number;
}

/** Argument structs and offsets of up to `perDevice` attention calls per device, kept alive across a wait. */
class CallSlots {
  readonly calls: AttentionCall[];
  readonly offsets: BigInt64Array[];
  readonly lists: CommandList[];
  constructor(devices: number, perDevice: number) {
    this.calls = Array.from({ length: devices * perDevice }, () => new AttentionCall());
    this.offsets = Array.from({ length: devices * perDevice }, () => new BigInt64Array(4));
    this.lists = Array.from({ length: devices }, () => new CommandList(8));
  }
}

export interface HistoryRun {
  /** x rows of the new queries (row stride d), y likewise, kv the request's event rows (K | V, stride hq + hv). */
  x: Float32Array;
  xAt: number;
  y: Float32Array;
  yAt: number;
  kv: Float32Array;
  kvAt: number;
  /** Scratch: uq [nq][hv + hq], att [nq][hv], gated [nq][hv]. */
  uq: Float32Array;
  att: Float32Array;
  gated: Float32Array;
  d: number;
  nq: number;
  cached: number;
  /** Event positions (timestamps) of the request's events when the bias uses them, else null (default positions). */
  pos: BigInt64Array | null;
  posAt: number;
  L: number;
}

/** One hstu_history node's split runner. */
export class ParallelHistory {
  readonly #slots: CallSlots;
  readonly #bUq: number;
  readonly #bKv: number;
  readonly #b2: number;

  constructor(
    readonly sp: SequenceParallel,
    readonly p: HstuParams,
    readonly sym: NativeSymbols,
    readonly check: (status: number) => void,
  ) {
    this.#slots = new CallSlots(sp.devices.length, 2);
    this.#bUq = addressOf(p.bUq);
    this.#bKv = addressOf(p.bKv);
    this.#b2 = addressOf(p.b2);
  }

  run(r: HistoryRun): void {
    const { p, sp } = this;
    const devices = sp.devices;
    const S = devices.length;
    const wuq = p.hv + p.hq, wkv = p.hq + p.hv;
    const x = addressOf(r.x, r.xAt), y = addressOf(r.y, r.yAt), kv = addressOf(r.kv, r.kvAt);
    const uq = addressOf(r.uq), att = addressOf(r.att), gated = addressOf(r.gated);
    const slices = contiguousSpans(r.nq, S);
    // 1. U|Q and K|V of the new events, by rows.
    devices.forEach((dev, i) => {
      const { start, end } = slices[i]!;
      if (end === start) return;
      const list = this.#slots.lists[i]!;
      list.reset();
      list.gemm(end - start, x + start * r.d * 4, r.d, p.wUq, this.#bUq, SILU, uq + start * wuq * 4, wuq);
      list.gemm(end - start, x + start * r.d * 4, r.d, p.wKv, this.#bKv, SILU, kv + (r.cached + start) * wkv * 4, wkv);
      dev.submit(list);
    });
    sp.waitAll();
    // 2. Causal attention by zig-zag query blocks.
    const pos = r.pos ? addressOf(r.pos, r.posAt) : 0;
    zigzagBlocks(r.nq, S).forEach((blocks, i) => {
      const list = this.#slots.lists[i]!;
      list.reset();
      blocks.forEach(({ start, end }, k) => {
        const slot = i * 2 + k;
        const off = this.#slots.offsets[slot]!;
        off[0] = 0n;
        off[1] = BigInt(end - start);
        off[2] = 0n;
        off[3] = BigInt(r.cached + end);
        const call = this.#slots.calls[slot]!.set({
          batch: 1, heads: p.H, d: p.qk, dv: p.dv,
          q: uq + (start * wuq + p.hv) * 4, ldq: wuq, qOffsets: addressOf(off, 0),
          k: kv, ldk: wkv, v: kv + p.hq * 4, ldv: wkv, kvOffsets: addressOf(off, 2),
          mask: CAUSAL, scale: p.scale, rab: p.rab ? addressOf(p.rab) : 0, numBuckets: p.buckets,
          qPos: pos ? pos + (r.cached + start) * 8 : 0, kvPos: pos, normLen: r.L,
          out: att + start * p.hv * 4, ldo: p.hv,
        });
        list.hstuAttention(call.address);
      });
      if (list.length > 0) devices[i]!.submit(list);
    });
    sp.waitAll();
    // 3. The gate (row-wise, cheap) here; 4. W2 with the residual, by rows.
    this.check(this.sym.rf_norm_gate(null, r.nq, p.hv, att as unknown as Pointer, p.hv, uq as unknown as Pointer, wuq, p.gamma, p.beta, p.eps, gated as unknown as Pointer, p.hv));
    devices.forEach((dev, i) => {
      const { start, end } = slices[i]!;
      if (end === start) return;
      const list = this.#slots.lists[i]!;
      list.reset();
      list.gemm(end - start, gated + start * p.hv * 4, p.hv, p.w2, this.#b2, IDENTITY, y + start * r.d * 4, r.d, x + start * r.d * 4, r.d);
      dev.submit(list);
    });
    sp.waitAll();
    sp.counters.historyLayers++;
  }
}

export interface CandidateRun {
  /** Q rows of the run's candidates: uq[qAt..] with row stride hv + hq (Q at column hv). */
  uq: Float32Array;
  qAt: number;
  rows: number;
  /** The request's event K | V rows. */
  kv: Float32Array;
  kvAt: number;
  nh: number;
  /** Candidate positions (rows of them) and event positions, when the layer has a bias. */
  qPos: BigInt64Array | null;
  kvPos: BigInt64Array | null;
  kvPosAt: number;
  L: number;
  /** Output rows att[outAt..], stride hv. */
  att: Float32Array;
  outAt: number;
}

/** One hstu_candidates node's split runner: parts [devices][capacity][hv] in `parts`. */
export class ParallelCandidates {
  readonly #slots: CallSlots;

  constructor(
    readonly sp: SequenceParallel,
    readonly p: HstuParams,
    readonly sym: NativeSymbols,
    readonly check: (status: number) => void,
    readonly parts: Float32Array,
    readonly capacity: number,
  ) {
    this.#slots = new CallSlots(sp.devices.length, 1);
  }

  run(r: CandidateRun): void {
    const { p, sp } = this;
    const S = sp.devices.length;
    const wkv = p.hq + p.hv;
    const kv = addressOf(r.kv, r.kvAt), parts = addressOf(this.parts);
    const kvPos = r.kvPos ? addressOf(r.kvPos, r.kvPosAt) : 0;
    contiguousSpans(r.nh, S).forEach(({ start, end }, i) => {
      const off = this.#slots.offsets[i]!;
      off[0] = 0n;
      off[1] = BigInt(r.rows);
      off[2] = 0n;
      off[3] = BigInt(end - start);
      // An empty shard still runs: no visible kv, so its part is zeros.
      const call = this.#slots.calls[i]!.set({
        batch: 1, heads: p.H, d: p.qk, dv: p.dv,
        q: addressOf(r.uq, r.qAt), ldq: p.hv + p.hq, qOffsets: addressOf(off, 0),
        k: kv + start * wkv * 4, ldk: wkv, v: kv + (start * wkv + p.hq) * 4, ldv: wkv, kvOffsets: addressOf(off, 2),
        mask: NONE, scale: p.scale, rab: p.rab ? addressOf(p.rab) : 0, numBuckets: p.buckets,
        qPos: r.qPos ? addressOf(r.qPos) : 0, kvPos: kvPos ? kvPos + start * 8 : 0, normLen: r.L,
        out: parts + i * this.capacity * p.hv * 4, ldo: p.hv,
      });
      const list = this.#slots.lists[i]!;
      list.reset();
      list.hstuAttention(call.address);
      sp.devices[i]!.submit(list);
    });
    sp.waitAll();
    const out = addressOf(r.att, r.outAt) as unknown as Pointer;
    this.check(this.sym.rf_attention_merge(null, S, r.rows, p.H, p.dv, parts as unknown as Pointer, p.hv, this.capacity * p.hv, null, 0, out, p.hv));
    sp.counters.candidateRuns++;
  }
}
