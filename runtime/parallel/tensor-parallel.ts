// One tensor-parallel group of one plan (`parallel: { dense: "tensor" }`), run
// over the devices that hold its slices, each on its own queue and threads (a
// core group's pinned pool, an OpenCL sub-device), all at once (one command
// list each, runAll):
// - pair (Megatron-style): device d computes its column slice of the first
//   linear, h_d = act₁(x · W₁[c_d]ᵀ + b₁[c_d]) (+ r₁[:, c_d]), then its partial
//   sum p_d = h_d · W₂[:, c_d]ᵀ (the first device's with b₂); one reduce after
//   the wait: y = act₂(Σ_d p_d) (+ r₂). h never exists whole.
// - column: device d writes its slice of the output in place,
//   y[:, c_d] = act(x · W[c_d]ᵀ + b[c_d]) (+ r[:, c_d]) — the gather is the
//   writes themselves.
// The step runs where the group's first linear ran. The memory planner may give
// the group's output the place of its input (a pair's input is dead after its
// first linear on one device, a linear's after it when a separate activation
// node writes the output), so the devices write the output directly only when
// the two do not overlap; otherwise into scratch, placed after the wait. Slot
// storage is read when the step runs (graph inputs and outputs may be bound to
// the caller's arrays). A device failing fails this batch only.
import { type Pointer, ptr } from "bun:ffi";
import { runAll } from "../devices";
import { DeviceError } from "../devices/device";
import { activationCode, binaryOps } from "../ffi/activations";
import { CommandList } from "../ffi/commands";
import { check, native } from "../ffi/native";
import type { DenseParallel, PackedLinear, PlacedGroup } from "./dense-parallel";
import type { ChainLinear } from "./linear-pairs";

/** Where a value lives when the step runs: its storage (read then) and row stride. */
export interface StepSlot {
  data: Float32Array;
  ld: number;
}

const ADD = binaryOps.indexOf("add");
export const addressOf = (a: Float32Array): number => ptr(a) as number;

export class TensorParallelGroup {
  readonly #lists: CommandList[];
  readonly #label: string;

  constructor(
    readonly dense: DenseParallel,
    readonly placed: PlacedGroup,
    readonly x: StepSlot,
    readonly y: StepSlot,
    readonly residuals: (StepSlot | undefined)[],
    /** The output overlaps neither the input nor the first linear's residual: a column slice (a pair: the first partial) goes straight to it. */
    readonly direct: boolean,
  ) {
    this.#lists = dense.devices.map(() => new CommandList(4));
    this.#label = placed.group.linears.map((l) => l.node).join(" + ");
  }

  run(rows: number): void {
    if (rows === 0) return;
    if (this.placed.group.kind === "pair") this.#pair(rows);
    else this.#column(rows);
  }

  #column(rows: number): void {
    const l = this.placed.group.linears[0]!;
    const x = addressOf(this.x.data), y = addressOf(this.y.data);
    const r = this.residuals[0];
    const rAt = r ? addressOf(r.data) : 0;
    const out = this.placed.parts.map((part, d) => {
      const cols = part.columns.end - part.columns.start;
      return this.direct ? { at: y + part.columns.start * 4, ld: this.y.ld } : { at: this.dense.scratch(d, "columns", Math.max(1, rows * cols) * 4), ld: cols };
    });
    this.placed.parts.forEach((part, d) => {
      const list = this.#lists[d]!;
      list.reset();
      if (part.linears.length === 0) return;
      const { w, bias } = part.linears[0]!;
      const c = part.columns.start;
      list.gemm(rows, x, this.x.ld, w.handle as number, bias ? (bias.ptr as number) : null, activationCode(l.act), out[d]!.at, out[d]!.ld, r ? rAt + c * 4 : null, r?.ld ?? 0);
    });
    this.#runAll();
    if (this.direct) return;
    this.placed.parts.forEach((part, d) => {
      const cols = part.columns.end - part.columns.start;
      if (cols > 0) check(native().rf_activation(null, 0, rows, cols, out[d]!.at as unknown as Pointer, cols, (y + part.columns.start * 4) as unknown as Pointer, this.y.ld), "rf_activation");
    });
  }

  #pair(rows: number): void {
    const [a, b] = this.placed.group.linears as [ChainLinear, ChainLinear];
    const n = b.n;
    const x = addressOf(this.x.data), y = addressOf(this.y.data);
    const [r1, r2] = this.residuals;
    const r1At = r1 ? addressOf(r1.data) : 0;
    const active = this.placed.parts.flatMap((p, d) => (p.linears.length > 0 ? [d] : []));
    const first = active[0]!;
    const partial = active.map((d) => (d === first && this.direct ? { at: y, ld: this.y.ld } : { at: this.dense.scratch(d, "partial", rows * n * 4), ld: n }));
    this.placed.parts.forEach((part, d) => {
      const list = this.#lists[d]!;
      list.reset();
      if (part.linears.length === 0) return;
      const [wa, wb] = part.linears as [PackedLinear, PackedLinear];
      const cols = part.columns.end - part.columns.start;
      const h = this.dense.scratch(d, "hidden", rows * cols * 4);
      list.gemm(rows, x, this.x.ld, wa.w.handle as number, wa.bias ? (wa.bias.ptr as number) : null, activationCode(a.act), h, cols, r1 ? r1At + part.columns.start * 4 : null, r1?.ld ?? 0);
      const p = partial[active.indexOf(d)]!;
      const bias = d === first && this.placed.reduceBias ? (this.placed.reduceBias.ptr as number) : null;
      list.gemm(rows, h, cols, wb.w.handle as number, bias, 0, p.at, p.ld);
    });
    this.#runAll();
    // The reduce: y = Σ partials, then the second linear's activation and residual, in place.
    const lib = native();
    const yp = y as unknown as Pointer;
    const start = this.direct ? 1 : 2;
    if (!this.direct) {
      const [p0, p1] = partial;
      if (p1) check(lib.rf_binary(null, ADD, rows, n, p0!.at as unknown as Pointer, p0!.ld, p1.at as unknown as Pointer, p1.ld, yp, this.y.ld), "rf_binary");
      else check(lib.rf_activation(null, 0, rows, n, p0!.at as unknown as Pointer, p0!.ld, yp, this.y.ld), "rf_activation");
    }
    for (let i = start; i < partial.length; i++) check(lib.rf_binary(null, ADD, rows, n, yp, this.y.ld, partial[i]!.at as unknown as Pointer, partial[i]!.ld, yp, this.y.ld), "rf_binary");
    if (b.act !== "none") check(lib.rf_activation(null, activationCode(b.act), rows, n, yp, this.y.ld, yp, this.y.ld), "rf_activation");
    if (r2) check(lib.rf_binary(null, ADD, rows, n, yp, this.y.ld, r2.data, r2.ld, yp, this.y.ld), "rf_binary");
  }

  #runAll(): void {
    const counters = this.dense.counters;
    try {
      runAll(this.dense.devices, this.#lists);
    } catch (failure) {
      counters.failedBatches++;
      throw failure instanceof DeviceError ? new DeviceError(`tensor-parallel linears "${this.#label}": ${failure.message}`, failure.device) : failure;
    }
    counters.batches++;
  }
}
