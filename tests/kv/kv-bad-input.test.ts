// Bad arguments to the KV store come back as clear errors naming the argument
// (TensorError from the wrapper before native code, KernelError from rf_kv_store_*),
// never a crash; dispose() is idempotent and use after it fails loudly.
import { expect, test } from "bun:test";
import { KernelError, TensorError } from "../../runtime/errors";
import { KvStore, kvBudgetForPages, kvFingerprints, kvPageBytes } from "../../runtime/ffi";
import { native } from "../../runtime/ffi/native";

const shape = { layers: 2, heads: 2, headDim: 4 } as const;
const pb = kvPageBytes("f32", 2, 2, 4, 4);
const make = () => new KvStore({ ...shape, pageTokens: 4, budgetBytes: kvBudgetForPages(pb, 4) });

test("create: a budget without a page per shard, bad shapes and dtypes", () => {
  expect(() => new KvStore({ ...shape, pageTokens: 4, budgetBytes: pb })).toThrow(/budget of \d+ bytes holds no page per shard/);
  expect(() => new KvStore({ ...shape, pageTokens: 4, shards: 8, budgetBytes: kvBudgetForPages(pb, 4) })).toThrow(/no page per shard \(8 shards/);
  expect(() => new KvStore({ ...shape, heads: 0, budgetBytes: 1 << 20 })).toThrow(/heads = 0 must be in \[1, 1024\]/);
  expect(() => new KvStore({ ...shape, pageTokens: 1.5, budgetBytes: 1 << 20 })).toThrow(TensorError);
  const cfg = new BigInt64Array(6);
  new Int32Array(cfg.buffer).set([2, 2, 4, 4, 5 /* RF_I32 */, 0, 1, 0]);
  cfg[4] = 1n << 20n;
  expect(native().rf_kv_store_create(0, cfg, new BigUint64Array(1))).toBe(1);
  expect(String(native().rf_last_error())).toContain("dtype 5 must be RF_F32, RF_BF16 or RF_I8");
  new Int32Array(cfg.buffer).set([2, 2, 4, 4, 0, 0, 1, 2 /* no such eviction */]);
  expect(native().rf_kv_store_create(0, cfg, new BigUint64Array(1))).toBe(1);
  expect(String(native().rf_last_error())).toContain("eviction = 2 must be RF_KV_EVICT_LRU (0) or RF_KV_EVICT_LFU_DA (1)");
  expect(native().rf_kv_store_create(3, cfg, new BigUint64Array(1))).toBe(1);
  expect(native().rf_kv_store_create(0, null, new BigUint64Array(1))).toBe(1);
  expect(native().rf_kv_store_destroy(null)).toBe(0);
});

test("lookup and append: offsets, rooms, extents and counts are checked before anything happens", () => {
  using store = make();
  const users = BigUint64Array.of(1n, 2n);
  const offsets = BigInt64Array.of(0n, 3n, 5n);
  const fp = kvFingerprints(offsets, BigInt64Array.of(1n, 2n, 3n, 4n, 5n), new BigInt64Array(5));
  const layerStride = 5 * 8;
  const k = new Float32Array(2 * layerStride), v = new Float32Array(2 * layerStride);
  expect(() => store.lookup(1n, users, BigInt64Array.of(0n, 3n), fp)).toThrow(/histOffsets has 2 entries for 2 users/);
  expect(() => store.lookup(1n, users, offsets, fp.subarray(0, 4))).toThrow(/histFp has 4 entries/);
  expect(() => store.lookup(1n, users, offsets, fp, { k: k.subarray(1), v, kvOffsets: offsets, layerStride })).toThrow(TensorError);
  // A user whose kv rows cannot hold its history: the native check names it.
  const e = (() => {
    try {
      store.lookup(1n, users, offsets, fp, { k, v, kvOffsets: BigInt64Array.of(0n, 2n, 5n), layerStride });
    } catch (err) {
      return err as KernelError;
    }
  })();
  expect(e).toBeInstanceOf(KernelError);
  expect(e!.message).toContain("users[0] has 2 kv rows (kv_offsets) for a history of 3 events");
  expect(() => store.lookup(1n, users, BigInt64Array.of(0n, 3n, 2n), fp)).toThrow(/offsets must not decrease/);
  expect(() => store.lookup(1n, users, offsets, fp, { k, v, kvOffsets: offsets, ld: 7, layerStride })).toThrow(/ld = 7 must be >= heads\*head_dim = 8/);
  const item = { user: 1n, start: 0, count: 3, srcRow: 0, prefixFp: 0n, fp: fp[2]! };
  expect(() => store.append(1n, [{ ...item, count: 0 }], k, v, { layerStride })).toThrow(/count must be >= 1/);
  expect(() => store.append(1n, [{ ...item, srcRow: 4 }], k, v, { layerStride })).toThrow(/buffer holds 80 floats/);
  // Raw: a zero count or a NULL k reaches C, which refuses it.
  const raw = new BigUint64Array([1n, 0n, 0n, 0n, 0n, 0n]);
  expect(native().rf_kv_store_append(store.handle, 1n, 1, raw, k, v, 8, layerStride, null)).toBe(1);
  expect(String(native().rf_last_error())).toContain("items[0].count = 0 must be >= 1");
  expect(native().rf_kv_store_append(store.handle, 1n, 1, raw, null, v, 8, layerStride, null)).toBe(1);
  expect(native().rf_kv_store_lookup(null, 1n, 1, users, offsets, fp, null, null, 8, 0, null, new BigInt64Array(2))).toBe(1);
  expect(native().rf_kv_store_stats(null, new BigInt64Array(20), 0)).toBe(1);
  expect(native().rf_kv_store_fingerprint(1, BigInt64Array.of(1n, 2n), null, null, null)).toBe(1);
  // Nothing was stored or counted by the refused calls.
  const s = store.stats();
  expect([s.hits, s.misses, s.entries, s.tokensComputed]).toEqual([0, 0, 0, 0]);
  expect([...store.append(1n, [item], k, v, { layerStride })]).toEqual([1]);
  expect([...store.lookup(1n, users, offsets, fp)]).toEqual([3n, 0n]);
});

test("dispose is idempotent and use after it throws", () => {
  const store = make();
  store.dispose();
  store.dispose();
  expect(store.disposed).toBe(true);
  expect(() => store.stats()).toThrow(/KvStore used after dispose/);
});
