// The user-history KV cache: a returning user's HSTU history is encoded once and
// reused. Each visit adds a few events; only those run through the layers (their
// queries attend to the cached K/V), the candidates attend to the whole history
// as always, and the scores equal the model without a cache. A changed old event
// breaks the prefix fingerprint and the history is recomputed, never reused.
// `bun examples/user-history-cache.ts` (serving: `rankfn serve --model hstu=hstu.safetensors --kv-cache-mb 256`,
// requests carry "user").
import { loadModel, tensor } from "../sdk";
import { zoo } from "../sdk/zoo";

const L = 512;
const built = zoo.hstu.build({ historyLength: L, rab: "time", seed: 3 });
const cached = loadModel(built, { kvCache: { mb: 64, dtype: "f32" } });
const plain = loadModel(built);

const items: number[] = [];
const actions: number[] = [];
const times: number[] = [];
function visit(newEvents: number) {
  for (let i = 0; i < newEvents; i++) {
    items.push((items.length * 7919 + 11) % 10_000);
    actions.push(items.length % 8);
    times.push(1_700_000_000 + 37 * items.length);
  }
  const padded = (xs: number[]) => tensor("i64", [1, L], BigInt64Array.from({ length: L }, (_, t) => BigInt(t < L - xs.length ? -1 : xs[t - (L - xs.length)]!)));
  return {
    context: { hist_items: padded(items), hist_actions: padded(actions), hist_ts: padded(times), request_ts: tensor("i64", [1, 1], BigInt64Array.of(BigInt(times.at(-1)! + 60))) },
    candidates: { item_id: tensor("i64", [100, 1], BigInt64Array.from({ length: 100 }, (_, i) => BigInt((i * 104_729) % 10_000))) },
  };
}

const ms = (f: () => void) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
for (const [i, add] of [400, 3, 1, 5, 2].entries()) {
  const request = visit(add);
  let withCache: Float32Array = new Float32Array();
  let without: Float32Array = new Float32Array();
  const tCached = ms(() => (withCache = cached.rankSync({ user: "u42", ...request }).outputs.ctr!.data));
  const tPlain = ms(() => (without = plain.rankSync(request).outputs.ctr!.data));
  const diff = withCache.reduce((m, x, j) => Math.max(m, Math.abs(x - without[j]!)), 0);
  const s = cached.stats().kvCache!;
  console.log(`visit ${i + 1}: ${items.length} events (+${add}): ${tCached.toFixed(1)} ms with the cache, ${tPlain.toFixed(1)} ms without; max |Δ| ${diff.toExponential(1)}; tokens reused ${s.tokensReused}, computed ${s.tokensComputed}`);
}

// A late correction of an old event: the fingerprint no longer matches, the history is recomputed.
times[10]! += 1;
cached.rankSync({ user: "u42", ...visit(1) });
const s = cached.stats().kvCache!;
console.log(`after changing event 10: mismatches ${s.mismatches}, hits ${s.hits}, misses ${s.misses}, hit ratio ${(100 * s.hitRatio).toFixed(0)}%, ${(s.bytesUsed / 1024).toFixed(0)} KiB of pages`);
cached.dispose();
plain.dispose();
