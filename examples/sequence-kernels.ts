// Sequence kernels and the user-history KV store, at the kernel level (the
// sequence models that use them come later): two users' jagged histories, the
// first request encodes them and stores each user's K/V, a returning user's
// cached prefix is read back and only the new events are attended.
//   bun examples/sequence-kernels.ts
import * as k from "../runtime/ffi";
import { Rng } from "../runtime/tensor/random";
import { tensor } from "../runtime/tensor/tensor";

const heads = 2;
const d = 16;
const width = heads * d;
const rng = new Rng(1);
const rows = (n: number) => tensor("f32", [n, width], rng.floats(n * width, -1, 1));
const offsets = (...v: number[]) => tensor("i64", [v.length], BigInt64Array.from(v, BigInt));

// Two users with histories of 5 and 3 events, stored as values + offsets (no padding).
const hist = { k: rows(8), v: rows(8), q: rows(8) };
const histOffsets = offsets(0, 5, 8);
const causal = k.seqAttention({ q: hist.q, k: hist.k, v: hist.v, qOffsets: histOffsets, kvOffsets: histOffsets, heads, mask: "causal" });
console.log(`causal self-attention over a jagged batch: out [${causal.shape.join(", ")}]`);

// Keep each user's K/V (one layer here), keyed by (model version, user), with a prefix fingerprint of its events.
using store = new k.KvStore({ layers: 1, heads, headDim: d, budgetBytes: 1 << 20 });
const eventIds = BigInt64Array.from([11n, 12n, 13n, 14n, 15n, 21n, 22n, 23n]);
const times = BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 1n, 2n, 3n]);
const fps = k.kvFingerprints(histOffsets.data as BigInt64Array, eventIds, times);
const users = BigUint64Array.from([42n, 7n]);
// fps[i]: the fingerprint of a user's events up to and including event i.
const fpAt = (b: number, len: number) => fps[Number((histOffsets.data as BigInt64Array)[b]) + len - 1]!;
store.append(1n, [0, 1].map((b) => ({ user: users[b]!, start: 0, count: b === 0 ? 5 : 3, srcRow: b === 0 ? 0 : 5, prefixFp: 0n, fp: fpAt(b, b === 0 ? 5 : 3) })), hist.k.data as Float32Array, hist.v.data as Float32Array, { layerStride: 8 * width });

// User 42 comes back: its history is the same 5 events (the fingerprint proves it), nothing to recompute.
const cached = store.lookup(1n, users.subarray(0, 1), BigInt64Array.from([0n, 5n]), fps.subarray(0, 5), {
  k: new Float32Array(5 * width), v: new Float32Array(5 * width), kvOffsets: BigInt64Array.from([0n, 5n]), layerStride: 5 * width,
});
const { hits, misses, tokensReused } = store.stats();
console.log(`user 42: ${cached[0]} of 5 history tokens reused from the store (hits ${hits}, misses ${misses}, tokens reused ${tokensReused})`);

// Candidates attend to the history and to themselves, not to each other (M-FALCON): 4 candidates after 5 history tokens.
const kv = { k: rows(9), v: rows(9) };
const scored = k.seqAttention({ q: rows(9), k: kv.k, v: kv.v, qOffsets: offsets(0, 9), kvOffsets: offsets(0, 9), heads, mask: "falcon", numCandidates: offsets(4) });
console.log(`M-FALCON attention for 1 user × 4 candidates: out [${scored.shape.join(", ")}]`);
