// Prometheus lines for expert parallelism, read from each loaded model's
// stats() at scrape time: per-expert routed rows and replicas, per-device busy
// time, per-layer imbalance (max/mean device load), dispatched bytes, dropped
// rows and failed batches.
import type { MoeStats } from "../moe/expert-parallel";

const esc = (v: string) => v.replace(/["\\\n]/g, "_");

/** The rankfn_moe_* families for every model that runs expert-parallel ("" when none does). */
export function renderMoeMetrics(models: { model: string; moe: MoeStats }[]): string {
  if (models.length === 0) return "";
  const families: [string, string, string, string[]][] = [
    ["rankfn_moe_expert_rows_total", "counter", "Rows routed to each expert (before capacity).", []],
    ["rankfn_moe_expert_replicas", "gauge", "Devices holding each expert.", []],
    ["rankfn_moe_device_busy_seconds_total", "counter", "Time each device spent computing.", []],
    ["rankfn_moe_device_rows_total", "counter", "Expert rows each device computed, per layer.", []],
    ["rankfn_moe_imbalance_ratio", "gauge", "Max / mean device load of a layer since load.", []],
    ["rankfn_moe_imbalance_ratio_last", "gauge", "Max / mean device load of a layer's last batch.", []],
    ["rankfn_moe_dispatched_bytes_total", "counter", "Bytes of rows sent to devices and results sent back.", []],
    ["rankfn_moe_dropped_rows_total", "counter", "Routed rows dropped by expert capacity.", []],
    ["rankfn_moe_failed_batches_total", "counter", "Batches a device failed.", []],
  ];
  const add = (i: number, labels: Record<string, string | number>, value: number) => {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(String(v))}"`).join(",");
    families[i]![3].push(`${families[i]![0]}{${l}} ${value}`);
  };
  for (const { model, moe } of models) {
    for (const d of moe.devices) add(2, { model, device: d.id }, d.busyMs / 1000);
    for (const l of moe.layers) {
      const base = { model, layer: l.layer };
      l.expertLoad.forEach((rows, e) => add(0, { ...base, expert: e }, rows));
      const replicas = new Array<number>(l.experts).fill(0);
      for (const d of l.placement.devices) for (const e of [...d.experts, ...d.replicaOf]) replicas[e]!++;
      replicas.forEach((r, e) => add(1, { ...base, expert: e }, r));
      l.deviceRows.forEach((rows, d) => add(3, { ...base, device: moe.devices[d]?.id ?? String(d) }, rows));
      add(4, base, l.imbalance);
      add(5, base, l.imbalanceLast);
      add(6, base, l.dispatchedBytes);
      add(7, base, l.dropped);
      add(8, base, l.failedBatches);
    }
  }
  return families.map(([name, type, help, lines]) => [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines].join("\n")).join("\n\n") + "\n";
}
