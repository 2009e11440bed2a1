// The devices' measured speeds for the planner (runtime/parallel/planner.ts):
// the library's fp32 FMA peak and read-bandwidth probes (rf_probe_*), per core
// count. The probes take seconds (the bandwidth one streams a buffer larger
// than the caches), so each core count is probed once per process and reused
// by every model loaded after it. RANKFN_PLANNER_SPEEDS="gflops_per_core,gbps_per_core"
// replaces the probes with fixed figures (for machines where probing at load
// time is unwanted, and for tests that need a deterministic plan).
import { RankfnError } from "../errors";
import { probeMemBandwidth, probePeakGflops } from "../ffi/device";
import type { DeviceSpeeds } from "./planner";

const probed = new Map<number, { gflops: number; bandwidth: number }>();

function fixedSpeeds(): { gflops: number; bandwidth: number } | undefined {
  const spec = process.env.RANKFN_PLANNER_SPEEDS;
  if (spec === undefined || spec === "") return undefined;
  const [g, b] = spec.split(",").map(Number);
  if (!(g! > 0) || !(b! > 0)) throw new RankfnError(`RANKFN_PLANNER_SPEEDS: expected "gflops_per_core,gbps_per_core" (two positive numbers), got "${spec}"`, "bad_option", 400);
  return { gflops: g!, bandwidth: b! };
}

/** Measured fp32 GFLOP/s and read GB/s with `cores` threads (probed once per process). */
export function speedsWith(cores: number): { gflops: number; bandwidth: number } {
  const fixed = fixedSpeeds();
  if (fixed) return { gflops: fixed.gflops * cores, bandwidth: fixed.bandwidth * Math.sqrt(cores) };
  let s = probed.get(cores);
  if (!s) {
    s = { gflops: probePeakGflops(cores, "f32"), bandwidth: probeMemBandwidth(cores) };
    probed.set(cores, s);
  }
  return s;
}

/** The planner's speeds for `groups` device groups of `coresPerGroup` cores. */
export function deviceSpeeds(groups: number, coresPerGroup: number): DeviceSpeeds {
  const cores = [...new Set([coresPerGroup, groups * coresPerGroup, 1])];
  const table = new Map(cores.map((c) => [c, speedsWith(c)]));
  const at = (c: number) => table.get(c) ?? speedsWith(c);
  return { groups, coresPerGroup, gflops: (c) => at(c).gflops, bandwidth: (c) => at(c).bandwidth };
}
