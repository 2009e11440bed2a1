// The HSTU history chain with the user-history KV cache (issue 16). Each layer
// keeps its own step (the memory plan lets later values share storage with
// earlier ones, so a layer must run where the plan put it):
// - layer 0 first prepares the batch: it fingerprints every user request's events
//   and looks the (model version, user) entries up in one call — an entry is reused
//   only when its fingerprint proves the cached tokens are a prefix of this history,
//   else the store drops it and the request recomputes — copying the hits' K/V of
//   every layer into the batch's buffer. A later request of a user met earlier in
//   the batch takes the common prefix from that request instead (one encoding);
// - every layer then restores each request's cached tokens' K/V into its kv value
//   and runs only the new events (new queries over cached + new K/V, delta-q),
//   keeping the new tokens' K/V in the batch buffer;
// - the last layer appends the new tokens of every layer in one call.
// Candidates read the kv values as always; their K/V never reach the store.
// Requests without a user compute as without a cache and store nothing.
import type { Node } from "../../graph/schema";
import { historyChain } from "../history-chain";
import type { PlanContext, RunState, Slot, TensorArray } from "../plan-context";
import type { KvAppendItem } from "../../ffi/kv-store";
import type { HistoryLayer } from "./sequence-layers";
import { firstEvent } from "./history-events";

/** One batch's plan of reuse, made by layer 0 and read by every layer. */
interface BatchReuse {
  /** Per context row: events (nh), leading pads, cached tokens, first row in the batch buffers, the earlier request it shares with (-1: the store). */
  nh: Int32Array;
  pads: Int32Array;
  cached: Int32Array;
  base: Int32Array;
  source: Int32Array;
  rows: number;
  /** [layers][rows][K | V] K/V of the batch's user requests (restored hits, then new tokens). */
  kv: Float32Array;
  /** Prefix fingerprints, rows as kv. */
  fp: BigUint64Array;
}

interface ChainState {
  layers: HistoryLayer[];
  reuse?: BatchReuse;
}

const chainsOf = new WeakMap<PlanContext, ChainState>();

/**
 * The KV-cached run of one layer of a cacheable history chain; null when the node is not in
 * one (then no cache applies).
 */
export function cachedHistory(node: Node, ctx: PlanContext, layer: HistoryLayer): ((s: RunState) => void) | null {
  const chain = historyChain(ctx.graph);
  if (typeof chain === "string") return null;
  const index = chain.layers.findIndex((n) => n.name === node.name);
  if (index < 0) return null;
  let state = chainsOf.get(ctx);
  if (!state) chainsOf.set(ctx, (state = { layers: [] }));
  state.layers[index] = layer;
  const count = chain.layers.length;
  const { wkv, hq, kv } = layer;
  const prepare = index === 0 ? batchPreparer(node, ctx, chain.ids, chain.timestamps, chain.others, layer, count) : undefined;
  const last = index === count - 1;
  return (s) => {
    if (prepare) state.reuse = prepare(s);
    const r = state.reuse!;
    const stride = r.rows * wkv;
    const at = index * stride;
    for (let b = 0; b < s.r; b++) {
      const cached = r.cached[b]!;
      const pads = r.pads[b]!;
      const row = layer.kvRow(b, pads);
      if (cached > 0) {
        const src = r.source[b]!;
        if (src < 0) kv.data.set(r.kv.subarray(at + r.base[b]! * wkv, at + (r.base[b]! + cached) * wkv), row);
        else {
          const from = layer.kvRow(src, r.pads[src]!);
          kv.data.copyWithin(row, from, from + cached * wkv);
        }
      }
      layer.run(s, b, cached);
      if (r.base[b]! >= 0 && cached < r.nh[b]!) r.kv.set(kv.data.subarray(row + cached * wkv, row + r.nh[b]! * wkv), at + (r.base[b]! + cached) * wkv);
    }
    if (!last) return;
    const items: KvAppendItem[] = [];
    const users = s.kv!.users;
    for (let b = 0; b < s.r; b++) {
      const nh = r.nh[b]!;
      const cached = r.cached[b]!;
      if (r.base[b]! < 0 || cached >= nh) continue;
      const fp = r.fp.subarray(r.base[b]!);
      items.push({ user: users[b]!, start: cached, count: nh - cached, srcRow: r.base[b]! + cached, prefixFp: cached > 0 ? fp[cached - 1]! : 0n, fp: fp[nh - 1]! });
    }
    if (items.length > 0) s.kv!.cache.store.append(s.kv!.cache.version, items, r.kv, r.kv.subarray(hq), { ld: wkv, layerStride: stride });
  };
}

/** Layer 0's preparation: fingerprints, one batch lookup, in-batch sharing. */
function batchPreparer(node: Node, ctx: PlanContext, idsName: string, tsName: string | undefined, otherNames: string[], layer: HistoryLayer, count: number) {
  const { L, wkv, hq } = layer;
  const ids = ctx.tensorSlot(idsName);
  const ts = tsName ? ctx.tensorSlot(tsName) : undefined;
  const others = otherNames.map((name) => ctx.tensorSlot(name));
  const events = new BigInt64Array(L);
  const times = new BigInt64Array(L);
  const one = new BigInt64Array(2);
  const { sym } = ctx;
  let reuse: BatchReuse | undefined;
  return (s: RunState): BatchReuse => {
    const users = s.kv!.users;
    const R = s.r;
    if (!reuse || reuse.nh.length < R) {
      const n = Math.max(R, 2 * (reuse?.nh.length ?? 0));
      reuse = { nh: new Int32Array(n), pads: new Int32Array(n), cached: new Int32Array(n), base: new Int32Array(n), source: new Int32Array(n), rows: 0, kv: reuse?.kv ?? new Float32Array(0), fp: reuse?.fp ?? new BigUint64Array(0) };
    }
    const r = reuse;
    let rows = 0;
    const asked: number[] = [];
    for (let b = 0; b < R; b++) {
      r.pads[b] = layer.pads(s, b);
      r.nh[b] = L - r.pads[b]!;
      r.cached[b] = 0;
      r.source[b] = -1;
      r.base[b] = -1;
      if (users[b] === 0n || r.nh[b] === 0) continue;
      r.base[b] = rows;
      rows += r.nh[b]!;
      asked.push(b);
    }
    r.rows = rows;
    if (r.fp.length < rows) r.fp = new BigUint64Array(2 * rows);
    if (r.kv.length < count * rows * wkv) r.kv = new Float32Array(2 * count * rows * wkv);
    if (asked.length === 0) return r;
    // fp(n) over every per-slot input the tokens read: (ids, timestamps) chained with each other input.
    for (const b of asked) {
      const nh = r.nh[b]!;
      const fp = r.fp.subarray(r.base[b]!, r.base[b]! + nh);
      one[1] = BigInt(nh);
      eventsOf(ids, firstEvent(s, idsName, ids, b, nh, L), nh, events);
      if (ts) eventsOf(ts, firstEvent(s, tsName!, ts, b, nh, L), nh, times);
      else times.fill(0n, 0, nh);
      ctx.check(sym.rf_kv_store_fingerprint(1, one, events, times, fp), node);
      for (let o = 0; o < others.length; o++) {
        const other = others[o]!;
        eventsOf(other, firstEvent(s, otherNames[o]!, other, b, nh, L), nh, times);
        ctx.check(sym.rf_kv_store_fingerprint(1, one, new BigInt64Array(fp.buffer, fp.byteOffset, nh), times, fp), node);
      }
    }
    const { store, version } = s.kv!.cache;
    const keys = BigUint64Array.from(asked, (b) => users[b]!);
    const offsets = new BigInt64Array(asked.length + 1);
    asked.forEach((b, i) => (offsets[i + 1] = offsets[i]! + BigInt(r.nh[b]!)));
    const cached = store.lookup(version, keys, offsets, r.fp.subarray(0, rows), { k: r.kv, v: r.kv.subarray(hq), kvOffsets: offsets, ld: wkv, layerStride: rows * wkv });
    // An earlier request of the same user in this batch may share a longer prefix.
    let shared = 0;
    asked.forEach((b, i) => {
      r.cached[b] = Number(cached[i]);
      for (let j = 0; j < i; j++) {
        const e = asked[j]!;
        if (keys[j] !== keys[i]) continue;
        const common = Math.min(r.nh[b]!, r.nh[e]!);
        if (common > r.cached[b]! && r.fp[r.base[b]! + common - 1] === r.fp[r.base[e]! + common - 1]) {
          r.cached[b] = common;
          r.source[b] = e;
        }
      }
      if (r.source[b]! >= 0) shared++;
    });
    s.kv!.cache.sharedInBatch += shared;
    return r;
  };
}

/** A request's nh event values from index `at` of a per-slot input, as int64 (f32 by its bits). */
function eventsOf(slot: Slot<TensorArray>, at: number, nh: number, out: BigInt64Array): void {
  const data = slot.data;
  if (data instanceof BigInt64Array) {
    out.set(data.subarray(at, at + nh));
    return;
  }
  const ints = data instanceof Float32Array ? new Int32Array(data.buffer, data.byteOffset + at * 4, nh) : data.subarray(at, at + nh);
  for (let i = 0; i < nh; i++) out[i] = BigInt(ints[i]!);
}
