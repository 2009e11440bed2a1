// Pipeline parallelism (issue 20, `parallel: { pipeline }`): the compiled plan
// cut into stages of balanced predicted cost (runtime/parallel/pipeline-stages.ts),
// one stage per device, and each batch split into microbatches that flow
// through the stages — while stage 1 runs the MLPs of microbatch i, stage 0
// gathers the embeddings of microbatch i + 1.
//
// Why Bun Workers: a step of the plan is a direct bun:ffi kernel call, and such
// calls block the JS thread that makes them; a device's native stream
// (rf_stream_enqueue, what runtime/moe/expert-parallel.ts and
// runtime/parallel/sharded-lookup.ts queue on) only runs the few ops that have
// a command (GEMM, gathers, pooled lookups, attention) — not the interaction,
// concat, activation, norm … steps a stage holds. So each stage runs on a
// Worker thread of its own (runtime/parallel/pipeline-worker.ts) holding the
// model's plans, and the stages really compute at the same time. Each direct
// call runs its parallel loop on the library pool, or inline on the calling
// thread when another stage holds that pool — so two stages use two threads.
// (The workers are not pinned to their core group's cores: the library binds
// only its own stream threads to a pool; the devices give the stage count and
// the cores each stage's cost is predicted for.)
//
// The main thread schedules: it writes each microbatch's graph inputs straight
// into the stage's arena, issues the stage's command through shared memory
// (runtime/parallel/pipeline-control.ts) and waits with Atomics.wait — run()
// stays synchronous like every executor's. A stage copies the values crossing
// its cut from the previous stage's arena (same process, same memory plan),
// and only then may the previous stage run its next microbatch; the last
// stage's outputs are read from its arena.
//
// A stage failing a microbatch (a kernel error, or failNextBatch, the internal
// fault hook) fails that batch only: the stages running finish, nothing more is
// issued, the batch throws a DeviceError naming the stage's device, and the next
// batch runs on the same workers.
import { toArrayBuffer } from "bun:ffi";
import type { Device } from "../devices";
import { allowedCpus, coreGroups } from "../devices/cpu";
import { DeviceError } from "../devices/device";
import { RankfnError } from "../errors";
import type { BuiltModel } from "../graph/builder";
import type { GraphInfo } from "../graph/infer";
import { type TypedArray, dtypes } from "../tensor/dtype";
import type { OutputView, RunOptions, StagedBatch } from "../engine/executor";
import { deviceSpeeds } from "./device-speeds";
import { Command, Ctl, StageControl, eventsBuffer } from "./pipeline-control";
import { type StageCut, baseOfValues, cutStages } from "./pipeline-stages";
import { type ChromeTrace, type StageEvent, chromeTrace, formatTimeline, writeTrace } from "./pipeline-trace";
import type { StageInit } from "./pipeline-worker";
import { type PipelineOptions, checkPipelineOptions } from "./pipeline-options";

export type { PipelineOptions };

export interface PipelineReport {
  stages: { stage: number; device: string; cpus: readonly number[]; nodes: string[]; predictedMs: number; measuredMs: number; microbatches: number }[];
  /** Rows of one microbatch the predictions are for. */
  predictedRows: number;
  /** Rows per microbatch (undefined: 4 microbatches per stage, at least 16 rows each). */
  microbatch?: number;
  batches: number;
  failedBatches: number;
  /** The last batch's runs: per stage and microbatch, start and duration (ms from the batch's first start). */
  timeline: { stage: number; device: string; microbatch: number; rows: number; startMs: number; ms: number }[];
}

const bad = (message: string) => new RankfnError(message, "bad_option", 400);
const WAIT_MS = 60_000;
const MAX_EVENTS = 100_000;

/** The core groups a spec or opened devices name (pipeline stages run on CPU core groups only). */
function coreGroupsOf(devices: string | Device[]): { id: string; cpus: readonly number[] }[] {
  if (typeof devices !== "string") {
    const other = devices.find((d) => d.deviceKind !== "cpu");
    if (other) throw bad(`parallel.pipeline: stages run on CPU core groups, got device ${other.id}`);
    return devices.map((d) => ({ id: d.id, cpus: d.cpus }));
  }
  const cpu = /^cpu(?::(\d+)(?:x(\d+))?)?$/.exec(devices);
  if (!cpu) throw bad(`parallel.pipeline: stages run on CPU core groups ("cpu:N" or "cpu:NxT"), got devices "${devices}"`);
  return coreGroups(allowedCpus(), cpu[1] ? Number(cpu[1]) : 1, cpu[2] ? Number(cpu[2]) : undefined).map((cpus, i) => ({ id: `cpu:${i}`, cpus }));
}

export class Pipeline {
  readonly cut: StageCut;
  readonly devices: { id: string; cpus: readonly number[] }[];
  readonly microbatch: number | undefined;
  readonly #model: BuiltModel;
  readonly #info: GraphInfo;
  readonly #maxBatch: number;
  readonly #exchanged: string[];
  /** History inputs: a batch may stage them as values + offsets (each microbatch gets its requests' offsets, re-based). */
  readonly #histories: string[];
  readonly #workers: Worker[] = [];
  readonly #controls: StageControl[] = [];
  readonly #events: Int32Array;
  readonly #measured: { ms: number; microbatches: number }[];
  #capacity = 0;
  #inputViews: { name: string; role: "context" | "candidate"; width: number; view: TypedArray }[][] = [];
  #outputViews: { name: string; role: "context" | "candidate"; width: number; ld: number; offset: number; view: Float32Array }[] = [];
  readonly #results = new Map<string, Float32Array>();
  readonly #trace: StageEvent[] = [];
  #lastBatch: StageEvent[] = [];
  #batches = 0;
  #failedBatches = 0;
  readonly #tracePath = process.env.RANKFN_TRACE;
  readonly #profiling = process.env.RANKFN_PROFILE === "1";
  #disposed = false;

  constructor(model: BuiltModel, info: GraphInfo, { devices, pipeline, maxBatch }: { devices: string | Device[]; pipeline: PipelineOptions; maxBatch: number }) {
    checkPipelineOptions(pipeline);
    const groups = coreGroupsOf(devices);
    const options = pipeline === true ? {} : pipeline;
    const stages = options.stages ?? groups.length;
    if (stages < 2) throw bad(`parallel.pipeline: needs at least 2 devices for 2 stages, got ${groups.length} (e.g. devices: "cpu:2")`);
    if (stages > groups.length) throw bad(`parallel.pipeline.stages: ${stages} stages need ${stages} devices, got ${groups.length}`);
    this.microbatch = options.microbatch;
    this.#model = model;
    this.#info = info;
    this.#maxBatch = maxBatch;
    const cores = groups[0]!.cpus.length;
    this.cut = cutStages(model, info, stages, options.microbatch ?? 64, cores, deviceSpeeds(stages, cores));
    this.devices = groups.slice(0, this.cut.stages.length);
    this.#measured = this.cut.stages.map(() => ({ ms: 0, microbatches: 0 }));
    const baseOf = baseOfValues(model);
    const { graph } = model;
    const exchanged = new Set<string>();
    for (const s of this.cut.stages) for (const v of [...s.liveIns, ...s.inputs]) exchanged.add(v);
    for (const out of Object.values(graph.outputs)) exchanged.add(baseOf(out));
    this.#exchanged = [...exchanged].filter((v) => info.values.has(v));
    const events = eventsBuffer();
    this.#events = new Int32Array(events);
    this.#histories = graph.inputs.filter((i) => i.sequence).map((i) => i.name);
    const buffers = this.cut.stages.map(() => StageControl.create(this.#exchanged.length, Math.max(16, maxBatch), this.#histories.length));
    buffers.forEach((b) => this.#controls.push(new StageControl(b, events)));
    const weights = [...model.weights];
    this.cut.stages.forEach((s, i) => {
      const worker = new Worker(new URL("./pipeline-worker.ts", import.meta.url));
      worker.unref();
      const init: StageInit = { stage: i, graph, weights, maxBatch, histories: this.#histories, first: s.first, end: s.end, exchanged: this.#exchanged, liveIns: s.liveIns.map((v) => this.#exchanged.indexOf(v)), controls: buffers, events };
      worker.postMessage(init);
      this.#workers.push(worker);
    });
  }

  /** Internal fault hook (tests): the stage on device `device` (its index or id) fails its next microbatch. */
  failNextBatch(device: number | string): void {
    const stage = typeof device === "number" ? device : this.devices.findIndex((d) => d.id === device);
    const c = this.#controls[stage];
    if (!c) throw new RankfnError(`pipeline: no stage on device ${device}`, "bad_option", 400);
    Atomics.store(c.ctl, Ctl.failNext, 1);
  }

  /** Rows of each microbatch for a batch of `n` rows. */
  microbatchRows(n: number): number {
    return Math.max(1, Math.min(n, this.microbatch ?? Math.max(16, Math.ceil(n / (4 * this.#controls.length)))));
  }

  /** Run a staged batch through the stages, microbatch by microbatch. */
  run(batch: StagedBatch, options: RunOptions = {}): Record<string, OutputView> {
    if (this.#disposed) throw new RankfnError("model used after dispose()", "disposed", 500);
    if (batch.n > this.#maxBatch) throw new RankfnError(`batch of ${batch.n} rows exceeds this model's maxBatch ${this.#maxBatch}`, "batch_too_large", 413);
    for (const input of this.#model.graph.inputs) {
      const rows = input.role === "candidate" ? batch.n : batch.r;
      const width = input.shape.reduce((a, b) => a * b, 1);
      const src = batch.inputs[input.name];
      if (!src || src.length < rows * width) throw new RankfnError(`input "${input.name}" needs ${rows} × ${width} values`, "bad_input", 400);
    }
    // Warming (minCapacity): the stages plan the microbatch bucket of a batch that size first.
    if (options.minCapacity) this.#prepare(this.#bucket(this.microbatchRows(Math.min(options.minCapacity, this.#maxBatch))));
    const m = this.microbatchRows(Math.max(1, batch.n));
    this.#prepare(this.#bucket(m));
    const results = this.#outputs(batch, options.outputs ?? "plan");
    const count = batch.n === 0 ? 0 : Math.ceil(batch.n / m);
    const K = this.#controls.length;
    const next = new Int32Array(K), done = new Int32Array(K), copied = new Int32Array(K);
    const running = new Int32Array(K); // the command number running (0: idle)
    const spans: { a: number; b: number; r0: number; r1: number }[] = [];
    for (let i = 0; i < count; i++) {
      const a = i * m, b = Math.min(batch.n, a + m);
      let r0 = Infinity, r1 = -1;
      for (let k = a; k < b; k++) {
        const q = batch.requestOfRow[k]!;
        if (q < r0) r0 = q;
        if (q > r1) r1 = q;
      }
      spans.push({ a, b, r0: r1 < 0 ? 0 : r0, r1: r1 < 0 ? 0 : r1 + 1 });
    }
    const events: StageEvent[] = [];
    let failure: { stage: number; microbatch: number; message: string; code?: string; http: number } | undefined;
    let idle = 0;
    for (;;) {
      const seen = Atomics.load(this.#events, 0);
      let progress = false;
      for (let s = 0; s < K; s++) {
        const c = this.#controls[s]!;
        if (running[s] === 0) continue;
        if (copied[s]! <= next[s]! && Atomics.load(c.ctl, Ctl.copied) === running[s]) {
          copied[s] = copied[s]! + 1;
          progress = true;
        }
        if (Atomics.load(c.ctl, Ctl.done) !== running[s]) continue;
        const i = next[s]!;
        running[s] = 0;
        done[s] = done[s]! + 1;
        next[s] = i + 1;
        progress = true;
        if (copied[s]! < i + 1) copied[s] = i + 1;
        if (c.ctl[Ctl.status] !== 0) {
          failure ??= { stage: s, microbatch: i, message: c.errorMessage(), code: c.errorCode(), http: c.ctl[Ctl.http]! };
          continue;
        }
        events.push({ batch: this.#batches + this.#failedBatches, microbatch: i, stage: s, rows: spans[i]!.b - spans[i]!.a, start: c.times[0]!, end: c.times[1]! });
        if (s === K - 1) this.#readOutputs(spans[i]!, results);
      }
      if (!failure) {
        for (let s = 0; s < K; s++) {
          const i = next[s]!;
          if (running[s] !== 0 || i >= count) continue;
          if (s > 0 && done[s - 1]! <= i) continue;
          if (s < K - 1 && copied[s + 1]! < i) continue;
          this.#writeInputs(s, batch, spans[i]!);
          running[s] = this.#controls[s]!.issue(Command.run, spans[i]!.b - spans[i]!.a, spans[i]!.r1 - spans[i]!.r0);
          progress = true;
        }
      }
      const busy = running.some((x) => x !== 0);
      if (!busy && (failure || done[K - 1] === count)) break;
      if (progress) idle = 0;
      else if (!this.#waitFor(seen) && (idle += 1000) >= WAIT_MS) {
        throw new DeviceError(`pipeline: a stage did not answer in ${WAIT_MS / 1000} s`, this.devices[running.findIndex((x) => x !== 0)]?.id ?? "cpu");
      }
    }
    this.#record(events);
    if (failure) {
      this.#failedBatches++;
      const device = this.devices[failure.stage]!.id;
      const message = `pipeline stage ${failure.stage} on ${device} failed microbatch ${failure.microbatch}: ${failure.message}`;
      // The request's fault (an id outside its table the validator did not see) stays a 4xx with its code.
      if (failure.http >= 400 && failure.http < 500) throw new RankfnError(message, failure.code ?? "bad_input", failure.http);
      throw new DeviceError(message, device);
    }
    this.#batches++;
    const out: Record<string, OutputView> = {};
    for (const o of this.#outputViews) {
      const rows = o.role === "candidate" ? batch.n : batch.r;
      out[o.name] = { data: results.get(o.name)!, rows, width: o.width, ld: o.width, role: o.role };
    }
    return out;
  }

  /** The plan bucket (rows) of microbatches of `m` rows, as an executor rounds them. */
  #bucket(m: number): number {
    return Math.min(Math.max(16, 2 ** Math.ceil(Math.log2(m))), Math.max(16, this.#maxBatch));
  }

  /** Wait up to a second for progress after `seen`; false when none came. */
  #waitFor(seen: number): boolean {
    return Atomics.wait(this.#events, 0, seen, 1000) !== "timed-out";
  }

  /** Every stage plans the `capacity`-row bucket (when it is not the current one) and publishes its addresses. */
  #prepare(capacity: number): void {
    if (capacity === this.#capacity) return;
    const seqs = this.#controls.map((c) => c.issue(Command.prepare, capacity, capacity));
    this.#controls.forEach((c, s) => {
      for (let idle = 0; Atomics.load(c.ctl, Ctl.done) !== seqs[s]; ) {
        const seen = Atomics.load(this.#events, 0);
        if (Atomics.load(c.ctl, Ctl.done) === seqs[s]) break;
        if (!this.#waitFor(seen) && (idle += 1000) >= WAIT_MS) throw new DeviceError(`pipeline: stage ${s} did not answer in ${WAIT_MS / 1000} s`, this.devices[s]!.id);
      }
    });
    const failed = this.#controls.findIndex((c) => c.ctl[Ctl.status] !== 0);
    if (failed >= 0) {
      this.#capacity = 0;
      throw new DeviceError(`pipeline stage ${failed} on ${this.devices[failed]!.id} could not plan ${capacity} rows: ${this.#controls[failed]!.errorMessage()}`, this.devices[failed]!.id);
    }
    this.#capacity = capacity;
    const { graph } = this.#model;
    const values = new Map(graph.inputs.map((i) => [i.name, i]));
    const viewOf = (stage: number, name: string, elements: number, dtype: keyof typeof dtypes) => {
      const address = this.#controls[stage]!.address(this.#exchanged.indexOf(name));
      const Ctor = dtypes[dtype].array as unknown as new (buffer: ArrayBuffer) => TypedArray;
      return new Ctor(toArrayBuffer(address as never, 0, elements * dtypes[dtype].bytes));
    };
    this.#inputViews = this.cut.stages.map((s, stage) =>
      s.inputs.map((name) => {
        const input = values.get(name)!;
        const width = input.shape.reduce((a, b) => a * b, 1);
        return { name, role: input.role, width, view: viewOf(stage, name, capacity * width, input.dtype) };
      }),
    );
    const last = this.#controls.length - 1;
    const baseOf = baseOfValues(this.#model);
    const widthOf = (v: { shape: number[] }) => v.shape.reduce((a, b) => a * b, 1);
    this.#outputViews = Object.entries(graph.outputs).map(([name, value]) => {
      const base = baseOf(value);
      const alias = graph.aliases?.[value];
      const ld = widthOf(this.#info.values.get(base)!);
      const v = this.#info.values.get(value)!;
      return { name, role: v.role, width: widthOf(v), ld, offset: alias?.offset ?? 0, view: viewOf(last, base, capacity * ld, "f32") as Float32Array };
    });
  }

  /** The microbatch's rows of every graph input stage `s` reads, into its arena. */
  #writeInputs(s: number, batch: StagedBatch, span: { a: number; b: number; r0: number; r1: number }): void {
    const c = this.#controls[s]!;
    for (let k = span.a; k < span.b; k++) c.requestOfRow[k - span.a] = batch.requestOfRow[k]! - span.r0;
    let jagged = 0, counted = 0;
    this.#histories.forEach((name, h) => {
      const offsets = batch.sequenceOffsets?.[name];
      if (offsets) {
        jagged |= 1 << h;
        const to = c.offsets(h), first = offsets[span.r0]!;
        for (let q = span.r0; q <= span.r1; q++) to[q - span.r0] = offsets[q]! - first;
      }
      const lengths = batch.sequenceLengths?.[name];
      if (lengths) {
        counted |= 1 << h;
        c.lengths(h).set(lengths.subarray(span.r0, span.r1));
      }
    });
    c.ctl[Ctl.jagged] = jagged;
    c.ctl[Ctl.lengths] = counted;
    for (const input of this.#inputViews[s]!) {
      const src = batch.inputs[input.name]!;
      const offsets = batch.sequenceOffsets?.[input.name];
      // A history as values + offsets: its requests' events, contiguous from the first.
      if (offsets) input.view.set(src.subarray(offsets[span.r0]!, offsets[span.r1]!) as never);
      else {
        const [a, b] = input.role === "candidate" ? [span.a, span.b] : [span.r0, span.r1];
        input.view.set(src.subarray(a * input.width, b * input.width) as never);
      }
    }
  }

  /** The last stage's output rows of microbatch `span`, into the batch's results. */
  #readOutputs(span: { a: number; b: number; r0: number; r1: number }, results: Map<string, Float32Array>): void {
    for (const o of this.#outputViews) {
      const [a, b] = o.role === "candidate" ? [span.a, span.b] : [span.r0, span.r1];
      const dst = results.get(o.name)!;
      for (let k = a; k < b; k++) dst.set(o.view.subarray((k - a) * o.ld + o.offset, (k - a) * o.ld + o.offset + o.width), k * o.width);
    }
  }

  /** The arrays this batch's outputs go to, as `outputs` says. */
  #outputs(batch: StagedBatch, outputs: NonNullable<RunOptions["outputs"]>): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, value] of Object.entries(this.#model.graph.outputs)) {
      const v = this.#info.values.get(value)!;
      const length = (v.role === "candidate" ? batch.n : batch.r) * v.shape.reduce((a, b) => a * b, 1);
      if (outputs === "owned") out.set(name, new Float32Array(length));
      else if (outputs !== "plan") out.set(name, outputs(name, length));
      else {
        let have = this.#results.get(name);
        if (!have || have.length < length) this.#results.set(name, (have = new Float32Array(Math.max(length, 16))));
        out.set(name, have);
      }
    }
    return out;
  }

  #record(events: StageEvent[]): void {
    this.#lastBatch = events;
    for (const e of events) {
      const m = this.#measured[e.stage]!;
      m.ms += e.end - e.start;
      m.microbatches++;
    }
    if (this.#trace.length + events.length <= MAX_EVENTS) this.#trace.push(...events);
    if (this.#profiling) for (const line of this.timelineLines()) console.error(`[rankfn pipeline] ${line}`);
  }

  /** The stages, their predicted and measured times, and the last batch's timeline. */
  describe(): PipelineReport {
    const origin = this.#lastBatch.reduce((t, e) => Math.min(t, e.start), Infinity);
    return {
      stages: this.cut.stages.map((s, i) => ({ stage: i, device: this.devices[i]!.id, cpus: this.devices[i]!.cpus, nodes: s.nodes, predictedMs: s.predictedMs, measuredMs: this.#measured[i]!.ms, microbatches: this.#measured[i]!.microbatches })),
      predictedRows: this.cut.rows,
      ...(this.microbatch !== undefined ? { microbatch: this.microbatch } : {}),
      batches: this.#batches,
      failedBatches: this.#failedBatches,
      timeline: this.#lastBatch.map((e) => ({ stage: e.stage, device: this.devices[e.stage]!.id, microbatch: e.microbatch, rows: e.rows, startMs: e.start - origin, ms: e.end - e.start })),
    };
  }

  /** Time per stage (device) accumulated so far, for the RANKFN_PROFILE output. */
  profile(): { node: string; op: string; ms: number; share: number }[] {
    const total = this.#measured.reduce((a, m) => a + m.ms, 0) || 1;
    return this.#measured.map((m, i) => ({ node: `pipeline stage ${i} on ${this.devices[i]!.id} (${m.microbatches} microbatches)`, op: "pipeline_stage", ms: m.ms, share: m.ms / total }));
  }

  /** The last batch as a text timeline, a line per device (printed per batch under RANKFN_PROFILE=1). */
  timelineLines(): string[] {
    return formatTimeline(this.#lastBatch, this.devices.map((d) => d.id));
  }

  /** Every recorded stage run (up to 100,000) as a Chrome trace. */
  trace(): ChromeTrace {
    return chromeTrace(this.#trace, this.devices.map((d) => d.id));
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#tracePath) writeTrace(this.#tracePath, this.trace());
    // Each stage disposes its plans and ends its own thread on the stop command, after the
    // microbatch it may be running. Nothing waits for that here (disposing many models must not
    // block this thread); a stage that has not ended in 10 s is terminated.
    for (const c of this.#controls) c.issue(Command.stop, 0, 0);
    const workers = this.#workers;
    setTimeout(() => workers.forEach((w) => w.terminate()), 10_000).unref();
  }
}
