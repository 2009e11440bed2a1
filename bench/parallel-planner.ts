// The planner section of `bun run bench parallel` (issue 20): for each model and
// batch the other sections measured, what `parallel: "auto"` would pick on
// 2 devices × 1 core (runtime/parallel/auto-parallel.ts, from the graph's costs
// and the probes run now) against the best throughput measured in the same run
// among every 2-core option (1 device × 2 cores, and each 2 × 1 strategy).
// Target: the pick within 10% of the best in at least 80% of the cases.
import type { BuiltModel } from "../runtime/graph/builder";
import { AutoParallel, type StrategyOptions } from "../runtime/parallel/auto-parallel";
import { linearPairs } from "../runtime/parallel/graph-costs";
import type { Strategy } from "../runtime/parallel/planner";
import type { Report } from "./report";

/** Measured rows/s per option label and batch, and which label runs each strategy the planner may pick. */
export interface MeasuredOptions {
  model: string;
  compiled: BuiltModel;
  rowsPerSecond: Map<string, Map<number, number>>;
  labelOf: Partial<Record<Strategy, string>>;
}

export const plannerCases: MeasuredOptions[] = [];

export function plannerSection(report: Report): void {
  const section = report.section('planner: the pick of parallel: "auto" on 2 devices × 1 core vs the best measured 2-core option');
  let cases = 0;
  let within = 0;
  for (const c of plannerCases) {
    const batches = [...new Set([...c.rowsPerSecond.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    const strategies: StrategyOptions = {};
    for (const s of Object.keys(c.labelOf) as Strategy[]) if (s !== "single") strategies[s] = {};
    const auto = new AutoParallel({ graph: c.compiled.graph, groups: 2, coresPerGroup: 1, buckets: batches, strategies, pairs: linearPairs(c.compiled.graph) });
    for (const b of auto.buckets) {
      const measured = [...c.rowsPerSecond].map(([label, m]) => ({ label, rowsPerS: m.get(b.batch) ?? 0 }));
      const best = measured.reduce((x, y) => (y.rowsPerS > x.rowsPerS ? y : x));
      const pickLabel = c.labelOf[b.choice]!;
      const picked = c.rowsPerSecond.get(pickLabel)?.get(b.batch) ?? 0;
      const ratio = picked / best.rowsPerS;
      cases++;
      if (ratio >= 0.9) within++;
      const predicted = Object.fromEntries(b.predictions.map((p) => [`predicted ms ${p.strategy}`, p.perBatch * 1e3]));
      section.add({ model: c.model, batch: b.batch, pick: `${b.choice} (${pickLabel})`, "best measured": best.label, "pick / best": ratio, "within 10%": ratio >= 0.9 ? "yes" : "no", ...predicted });
    }
  }
  report.fact("planner picks within 10% of the best measured", `${within} of ${cases} (${cases ? ((100 * within) / cases).toFixed(0) : 0}%; target ≥ 80%)`);
  section.note("pick / best: measured throughput of the option the planner picks over the best measured 2-core option at that batch; predicted ms: the planner's time per batch for each strategy it may pick.");
}
