// The pipeline's timeline as a Chrome trace (chrome://tracing, Perfetto):
// one complete event (ph "X") per stage and microbatch, on the process and
// thread of its device, with its start and duration in µs from the first
// recorded start; the devices are named by metadata events (ph "M").
import { writeFileSync } from "node:fs";

/** One stage's run of one microbatch: absolute start and end (ms since the epoch, any thread's clock). */
export interface StageEvent {
  batch: number;
  microbatch: number;
  stage: number;
  rows: number;
  start: number;
  end: number;
}

export interface TraceEvent {
  name: string;
  cat?: string;
  ph: "X" | "M";
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: "ms";
}

/** The trace of `events`, stage s on the device `devices[s]` (pid s + 1, tid s + 1). */
export function chromeTrace(events: readonly StageEvent[], devices: readonly string[]): ChromeTrace {
  const origin = events.reduce((t, e) => Math.min(t, e.start), Infinity);
  const names: TraceEvent[] = devices.flatMap((id, s) => [
    { name: "process_name", ph: "M", pid: s + 1, tid: s + 1, args: { name: `${id} (stage ${s})` } },
    { name: "thread_name", ph: "M", pid: s + 1, tid: s + 1, args: { name: `stage ${s}` } },
  ]);
  const runs: TraceEvent[] = events.map((e) => ({
    name: `stage ${e.stage} · microbatch ${e.microbatch}`,
    cat: "pipeline",
    ph: "X",
    pid: e.stage + 1,
    tid: e.stage + 1,
    ts: Math.round((e.start - origin) * 1000 * 1000) / 1000,
    dur: Math.max(0, Math.round((e.end - e.start) * 1000 * 1000) / 1000),
    args: { batch: e.batch, microbatch: e.microbatch, rows: e.rows, device: devices[e.stage] },
  }));
  return { traceEvents: [...names, ...runs], displayTimeUnit: "ms" };
}

/** Write `trace` to `path` as JSON. */
export function writeTrace(path: string, trace: ChromeTrace): void {
  writeFileSync(path, JSON.stringify(trace));
}

/**
 * One batch's runs as a text timeline, a line per device (RANKFN_PROFILE=1): `columns`
 * characters spanning the batch, each microbatch's run drawn with its index (mod 10).
 */
export function formatTimeline(events: readonly StageEvent[], devices: readonly string[], columns = 64): string[] {
  if (events.length === 0) return [];
  const origin = events.reduce((t, e) => Math.min(t, e.start), Infinity);
  const span = Math.max(1e-6, events.reduce((t, e) => Math.max(t, e.end), -Infinity) - origin);
  const width = Math.max(...devices.map((d) => d.length));
  return devices.map((id, s) => {
    const line = Array.from({ length: columns }, () => "·");
    for (const e of events) {
      if (e.stage !== s) continue;
      const a = Math.floor(((e.start - origin) / span) * columns), b = Math.max(a + 1, Math.ceil(((e.end - origin) / span) * columns));
      for (let c = a; c < Math.min(b, columns); c++) line[c] = String(e.microbatch % 10);
    }
    return `${id.padEnd(width)} |${line.join("")}| ${span.toFixed(2)} ms`;
  });
}
