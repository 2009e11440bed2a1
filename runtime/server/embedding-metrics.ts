// Prometheus text for the embedding tiers of every loaded model with remote
// tables: lookups by tier (hot cache, host cache) and result, rows and bytes
// fetched from Redis, fetch latency, failures, degraded batches, updates,
// rows prefetched for the next batch and what became of them.
import type { RemoteEmbeddingStats } from "../embeddings/remote-tables";

type Sample = [labels: Record<string, string>, value: number];

function family(name: string, type: "counter" | "gauge", help: string, samples: Sample[]): string {
  if (samples.length === 0) return "";
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`).join(",");
    lines.push(`${name}{${l}} ${value}`);
  }
  return lines.join("\n") + "\n\n";
}

/** The embedding metric families (empty when no model has remote tables). */
export function renderEmbeddingMetrics(models: { model: string; stats: RemoteEmbeddingStats }[]): string {
  const lookups: Sample[] = [];
  const hitRatio: Sample[] = [];
  const remoteRows: Sample[] = [];
  const remoteBytes: Sample[] = [];
  const defaulted: Sample[] = [];
  const evictions: Sample[] = [];
  const tableFetches: Sample[] = [];
  const tableSeconds: Sample[] = [];
  const localRows: Sample[] = [];
  const admission: Sample[] = [];
  const perModel: Record<string, Sample[]> = { prefetch: [], commands: [], roundTrips: [], fetches: [], latencySum: [], latencyMax: [], errors: [], degraded: [], failed: [], updates: [], resyncs: [], connected: [], reconnects: [] };
  for (const { model, stats } of models) {
    for (const [table, t] of Object.entries(stats.tables)) {
      const tiers: [string, { hits: number; misses: number } | null][] = [["hot", t.hot], ["host", t.host]];
      for (const [tier, c] of tiers) {
        if (!c) continue;
        lookups.push([{ model, table, tier, result: "hit" }, c.hits], [{ model, table, tier, result: "miss" }, c.misses]);
        hitRatio.push([{ model, table, tier }, c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : 0]);
      }
      if (t.hot) evictions.push([{ model, table }, t.hot.evictions]);
      if (t.local) localRows.push([{ model, table }, t.local.hits]);
      if (t.hot) admission.push([{ model, table, result: "admitted" }, t.admission.admitted], [{ model, table, result: "rejected" }, t.admission.rejected]);
      remoteRows.push([{ model, table }, t.remote.rows]);
      tableFetches.push([{ model, table }, t.remote.fetches]);
      tableSeconds.push([{ model, table }, t.remote.latencyMsSum / 1000]);
      remoteBytes.push([{ model, table }, t.remote.bytes]);
      defaulted.push([{ model, table }, t.defaultedRows]);
    }
    const r = stats.redis;
    perModel.fetches!.push([{ model }, r.fetches]);
    perModel.commands!.push([{ model }, r.commands]);
    perModel.roundTrips!.push([{ model }, r.roundTrips]);
    perModel.latencySum!.push([{ model }, r.latencyMsSum / 1000]);
    perModel.latencyMax!.push([{ model }, r.latencyMsMax / 1000]);
    perModel.errors!.push([{ model, kind: "error" }, r.errors], [{ model, kind: "timeout" }, r.timeouts]);
    perModel.degraded!.push([{ model }, stats.degradedBatches]);
    perModel.failed!.push([{ model }, stats.failedBatches]);
    perModel.updates!.push([{ model }, stats.updates]);
    perModel.resyncs!.push([{ model }, stats.resyncs]);
    perModel.connected!.push([{ model }, r.connected ? 1 : 0]);
    perModel.reconnects!.push([{ model }, r.reconnects]);
    const p = stats.prefetch;
    perModel.prefetch!.push(...(["rows", "used", "wasted", "invalidated", "failed"] as const).map((k): Sample => [{ model, result: k === "rows" ? "requested" : k }, p[k]]));
  }
  return [
    family("rankfn_embedding_lookups_total", "counter", "Embedding row lookups (distinct ids of each batch) by model, table, tier (hot: native cache, host: host row cache) and result.", lookups),
    family("rankfn_embedding_hit_ratio", "gauge", "Hit ratio of a cache tier since load.", hitRatio),
    family("rankfn_embedding_local_rows_total", "counter", "Lookups served by a hot/cold split's local rows.", localRows),
    family("rankfn_embedding_admissions_total", "counter", "Missed rows the admission sketch let into the hot-row cache (admitted) or kept out (rejected).", admission),
    family("rankfn_embedding_redis_commands_total", "counter", "Redis commands (MGETs) sent for rows.", perModel.commands!),
    family("rankfn_embedding_redis_round_trips_total", "counter", "Redis round trips for rows (one per node a batch reads from).", perModel.roundTrips!),
    family("rankfn_embedding_evictions_total", "counter", "Rows evicted from the hot-row cache.", evictions),
    family("rankfn_embedding_remote_rows_total", "counter", "Rows fetched from Redis.", remoteRows),
    family("rankfn_embedding_remote_bytes_total", "counter", "Bytes of rows fetched from Redis.", remoteBytes),
    family("rankfn_embedding_table_fetches_total", "counter", "Successful Redis fetches of a table's missed rows.", tableFetches),
    family("rankfn_embedding_table_fetch_seconds_total", "counter", "Time spent in those fetches (divide by the fetches for the mean latency).", tableSeconds),
    family("rankfn_embedding_defaulted_rows_total", "counter", "Rows scored with the default row because Redis failed.", defaulted),
    family("rankfn_embedding_remote_fetches_total", "counter", "Pipelined Redis fetches.", perModel.fetches!),
    family("rankfn_embedding_remote_seconds_total", "counter", "Total time of Redis fetches (divide by the fetches for the mean latency).", perModel.latencySum!),
    family("rankfn_embedding_remote_seconds_max", "gauge", "Slowest Redis fetch since load.", perModel.latencyMax!),
    family("rankfn_embedding_remote_failures_total", "counter", "Failed Redis fetches by kind (error, timeout).", perModel.errors!),
    family("rankfn_embedding_degraded_batches_total", "counter", "Batches scored with default rows.", perModel.degraded!),
    family("rankfn_embedding_failed_batches_total", "counter", "Batches failed (503) because Redis failed.", perModel.failed!),
    family("rankfn_embedding_updates_total", "counter", "Row update announcements applied.", perModel.updates!),
    family("rankfn_embedding_resyncs_total", "counter", "Cache flushes after the update subscription dropped.", perModel.resyncs!),
    family("rankfn_embedding_redis_connected", "gauge", "1 while the model's Redis connection is up.", perModel.connected!),
    family("rankfn_embedding_redis_reconnects_total", "counter", "Redis reconnections.", perModel.reconnects!),
    family("rankfn_embedding_prefetch_rows_total", "counter", "Rows fetched ahead for the next queued batch: requested, used by it, wasted (never used), invalidated (updated first), failed (the batch fetched them itself).", perModel.prefetch!),
  ].join("");
}
