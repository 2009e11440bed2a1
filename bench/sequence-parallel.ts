// Sequence-parallel section of `bun run bench sequence` (also alone: `bun run
// bench sequence --sp`): one zoo hstu request with a long history (L = 8192;
// 2048 with --quick) ranked with `sequenceParallel` on 1 device × 1 core, 2
// devices × 1 core and 1 device × 2 cores (reference), ms per request and the
// ratio to 1 device × 1 core; and the attention kernel alone (candidates over
// the history, softmax and HSTU) split into kv shards over 1 and 2 devices.
// Alongside each figure: the devices' summed busy time / wall time (≈ the
// number of devices when they really compute concurrently; less when other
// processes take the cores), so a noisy shared machine reads as such.
import { readFileSync, readdirSync } from "node:fs";
import { type Device, openDevices } from "../runtime/devices";
import * as k from "../runtime/ffi";
import { ShardedAttention } from "../runtime/sequence-parallel/sharded-attention";
import { Rng } from "../runtime/tensor/random";
import { type Model, loadModel, tensor } from "../sdk";
import { zoo } from "../sdk/zoo";
import { Report } from "./report";
import { benchHstu } from "./sequence-zoo";
import { progress, time } from "./timing";

const CANDIDATES = 128;

/** Setups compared: [label, device spec, library pool threads (the norm gate and the candidates' GEMMs)]. */
const setups = [
  ["1 device × 1 core", "cpu:1x1", 1],
  ["2 devices × 1 core", "cpu:2x1", 2],
  ["1 device × 2 cores", "cpu:1x2", 2],
] as const;

function request(L: number) {
  const ids = (f: (t: number) => number) => tensor("i64", [1, L], BigInt64Array.from({ length: L }, (_, t) => BigInt(f(t))));
  return {
    context: { hist_items: ids((t) => (t * 7919) % 10_000), hist_actions: ids((t) => t % 8) },
    candidates: { item_id: tensor("i64", [CANDIDATES, 1], BigInt64Array.from({ length: CANDIDATES }, (_, i) => BigInt((i * 104_729) % 10_000))) },
  };
}

/** This process's threads' CPU time and time spent runnable but waiting for a core, ns (Linux schedstat; zeros elsewhere). */
function schedTotals(): { run: number; wait: number } {
  let run = 0, wait = 0;
  try {
    for (const t of readdirSync("/proc/self/task")) {
      try {
        const [r, w] = readFileSync(`/proc/self/task/${t}/schedstat`, "utf8").trim().split(" ").map(Number);
        run += r!;
        wait += w!;
      } catch {
        // the thread exited meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return { run, wait };
}

/**
 * Median seconds of `fn`; the devices' busy time over the timed calls / their wall time; and the
 * share of this process's runnable time spent waiting for a core (other processes on the machine).
 */
async function measure(fn: () => unknown, devices: readonly Device[], quick: boolean) {
  fn();
  const busy0 = devices.map((d) => d.stats().busyMs);
  const s0 = schedTotals();
  const t0 = performance.now();
  const t = await time(fn, { warmup: 0, minCalls: 3, minSeconds: quick ? 0.3 : 1 });
  const wall = performance.now() - t0;
  const s1 = schedTotals();
  const busy = devices.reduce((a, d, i) => a + d.stats().busyMs - busy0[i]!, 0);
  const run = s1.run - s0.run, wait = s1.wait - s0.wait;
  return { seconds: t.median, overlap: busy / wall, waited: run + wait > 0 ? (100 * wait) / (run + wait) : 0 };
}

/** Adds the sequence-parallel sections to `report`. */
export async function sequenceParallelSection(report: Report, quick: boolean): Promise<void> {
  const L = quick ? 2048 : 8192;
  const threadsBefore = k.numThreads();
  const built = zoo.hstu.build({ ...benchHstu, historyLength: L });
  const req = request(L);
  const section = report.section(`sequence parallelism: zoo hstu (d = ${benchHstu.embeddingDim}, H = ${benchHstu.heads}, ${benchHstu.layers} layers), one request, L = ${L}, ${CANDIDATES} candidates`);
  section.note("sequenceParallel { devices, minLength: 1024 }: W1/W2 GEMMs by rows, causal attention by zig-zag query blocks, candidate attention by kv shards (summed)");
  section.note("device busy / wall: the devices' summed compute time over the timed wall time (≈ devices when they run concurrently)");
  section.note("waited for a core %: this process's runnable time spent queued behind other processes (schedstat): high on a shared machine, and then the ratios understate");
  section.note(`target: 2 devices × 1 core >= 1.7× 1 device × 1 core at L = 8192`);
  const ms = new Map<string, number>();
  let base: Float32Array | undefined;
  for (const [label, spec, threads] of setups) {
    progress(`sequence parallel: ${label}, L = ${L}`);
    k.setNumThreads(threads);
    const devices = openDevices(spec);
    const model: Model = loadModel(built, { maxBatch: CANDIDATES, sequenceParallel: { devices, minLength: 1024 } });
    try {
      const f = await measure(() => model.rankSync(req), devices, quick);
      const ctr = model.rankSync(req).outputs.ctr!.data as Float32Array;
      base ??= ctr;
      let diff = 0;
      for (let i = 0; i < ctr.length; i++) diff = Math.max(diff, Math.abs(ctr[i]! - base[i]!));
      ms.set(label, f.seconds * 1e3);
      section.add({ setup: label, "ms / request": f.seconds * 1e3, "× 1 device × 1 core": ms.get("1 device × 1 core")! / (f.seconds * 1e3), "device busy / wall": f.overlap, "waited for a core %": f.waited, "max |Δ| vs 1×1": diff.toExponential(1) });
    } finally {
      model.dispose();
      devices.forEach((d) => d.dispose());
    }
  }
  report.fact(`SP: 2 devices × 1 core / 1 device × 1 core at L = ${L} (target ≥ 1.7 at L = 8192)`, ms.get("1 device × 1 core")! / ms.get("2 devices × 1 core")!);

  const kernel = report.section(`sequence parallelism: the attention kernel alone, ${CANDIDATES * 4} queries over L = ${L} keys (H = 4, d = dv = 32), kv split into shards`);
  kernel.note("softmax: shards with their log-sum-exp, merged by rescaling; hstu: shards under the global normLen, summed");
  const rng = new Rng(11);
  const heads = 4, d = 32, nq = CANDIDATES * 4;
  const q = rng.floats(nq * heads * d), kk = rng.floats(L * heads * d), v = rng.floats(L * heads * d);
  const out = new Float32Array(nq * heads * d);
  for (const kind of ["softmax", "hstu"] as const) {
    let one = 0;
    for (const [label, spec] of [["1 device × 1 core", "cpu:1x1"], ["2 devices × 1 core", "cpu:2x1"]] as const) {
      progress(`attention kernel ${kind} on ${label}`);
      k.setNumThreads(1);
      const devices = openDevices(spec);
      try {
        const split = new ShardedAttention(devices);
        const f = await measure(() => split.run({ kind, heads, d, dv: d, q, k: kk, v, nq, nk: L, scale: 1 / Math.sqrt(d), out }), devices, quick);
        one ||= f.seconds;
        kernel.add({ kind, setup: label, ms: f.seconds * 1e3, "GFLOP/s": (4 * heads * d * nq * L) / f.seconds / 1e9, "× 1 device": one / f.seconds, "device busy / wall": f.overlap, "waited for a core %": f.waited });
      } finally {
        devices.forEach((dd) => dd.dispose());
      }
    }
  }
  k.setNumThreads(threadsBefore);
}

/** `bun run bench sequence --sp`: these sections alone. */
export async function main(args: string[]): Promise<void> {
  const report = new Report("sequence-parallel");
  report.fact("cores allowed", (await import("../runtime/devices")).allowedCpus().join(","));
  await sequenceParallelSection(report, args.includes("--quick"));
  report.print(args.includes("--json"));
}
