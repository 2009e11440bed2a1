// Prometheus lines for the user-history KV cache (issue 16), read from each
// serving model's stats().kvCache at scrape time: lookups by outcome and tier,
// tokens reused and computed, prefix mismatches, evictions, requests sharing an
// encoding inside a batch, and the entries and bytes each tier holds.
import type { KvCacheStats } from "../engine/kv-cache";

const esc = (v: string) => v.replace(/["\\\n]/g, "_");

/** The rankfn_kv_* families for every model with a KV cache ("" when none has one). */
export function renderKvMetrics(models: { model: string; version: string; kv: KvCacheStats }[]): string {
  if (models.length === 0) return "";
  const families: [string, string, string, string[]][] = [
    ["rankfn_kv_hits_total", "counter", "History lookups that reused a cached prefix, by the tier that held it.", []],
    ["rankfn_kv_misses_total", "counter", "History lookups with nothing reusable (no entry, or a prefix mismatch).", []],
    ["rankfn_kv_mismatches_total", "counter", "Cached entries dropped because the request's history fingerprint differed.", []],
    ["rankfn_kv_tokens_reused_total", "counter", "History tokens whose K/V came from the cache.", []],
    ["rankfn_kv_tokens_computed_total", "counter", "History tokens computed and offered to the cache.", []],
    ["rankfn_kv_shared_in_batch_total", "counter", "Requests whose history prefix came from an earlier request of the same user in their batch.", []],
    ["rankfn_kv_evictions_total", "counter", "Entries evicted for room, by tier (native ones move to the host tier when there is one).", []],
    ["rankfn_kv_appends_skipped_total", "counter", "New tokens not stored (the entry changed meanwhile, or larger than a shard).", []],
    ["rankfn_kv_entries", "gauge", "Users' entries held, by tier.", []],
    ["rankfn_kv_used_bytes", "gauge", "Bytes of pages in use, by tier.", []],
    ["rankfn_kv_memory_bytes", "gauge", "Memory a tier holds (pages and metadata).", []],
    ["rankfn_kv_hit_ratio", "gauge", "Hits / lookups since load.", []],
  ];
  const add = (i: number, labels: Record<string, string>, value: number) => {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(",");
    families[i]![3].push(`${families[i]![0]}{${l}} ${value}`);
  };
  for (const { model, version, kv } of models) {
    const base = { model, version };
    const host = kv.hostDtype !== undefined;
    add(0, { ...base, tier: "native" }, kv.hits - kv.hostHits);
    if (host) add(0, { ...base, tier: "host" }, kv.hostHits);
    add(1, base, kv.misses);
    add(2, base, kv.mismatches);
    add(3, base, kv.tokensReused);
    add(4, base, kv.tokensComputed);
    add(5, base, kv.sharedInBatch);
    add(6, { ...base, tier: "native" }, kv.evictions);
    if (host) add(6, { ...base, tier: "host" }, kv.hostEvictions);
    add(7, base, kv.appendsSkipped);
    add(8, { ...base, tier: "native" }, kv.entries);
    if (host) add(8, { ...base, tier: "host" }, kv.hostEntries);
    add(9, { ...base, tier: "native" }, kv.bytesUsed);
    if (host) add(9, { ...base, tier: "host" }, kv.hostBytesUsed);
    add(10, { ...base, tier: "native" }, kv.bytes);
    if (host) add(10, { ...base, tier: "host" }, kv.hostBytes);
    add(11, base, kv.hitRatio);
  }
  return families.map(([name, type, help, lines]) => [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines].join("\n")).join("\n\n") + "\n";
}
