// One linear chain of one plan run data-parallel (`parallel: { dense:
// "replicate" }`). Design: the executor runs one batch at a time, so data
// parallelism happens inside the batch — its rows are split into contiguous
// shares (by each device's threads) and every device runs its share through
// the whole chain on its own queue and threads, all at once, with one sync per
// chain. A batch of 64 rows is two batches of 32 in flight; throughput scales
// with the devices as long as a share keeps a device's GEMM tiles busy (whole
// batches per device would need an executor per device, each with its own
// arena: the rest of the plan runs one batch at a time). Core groups share one
// packed copy of the chain (host memory, rf_gemm only reads it); an OpenCL
// sub-device holds its own. A chain with int8 layers keeps every share on the
// side of rf_gemm's small-M bound the whole batch is on (rowShares), so its
// rows are quantized as on one device. Each device's values inside the chain
// live in its own scratch (the memory planner may reuse a chain value's place
// for another as soon as one device would be done with it); the output is
// written in place when it overlaps nothing the chain reads, else copied after
// the wait.
import { type Pointer } from "bun:ffi";
import { runAll } from "../devices";
import { DeviceError } from "../devices/device";
import { activationCode } from "../ffi/activations";
import { CommandList } from "../ffi/commands";
import { check, native } from "../ffi/native";
import type { DenseParallel, PlacedGroup } from "./dense-parallel";
import { rowShares } from "./linear-pairs";
import { type StepSlot, addressOf } from "./tensor-parallel";


export class ReplicatedChain {
  readonly #lists: CommandList[];
  readonly #label: string;
  readonly #widest: number;
  readonly #int8: boolean;

  constructor(
    readonly dense: DenseParallel,
    readonly placed: PlacedGroup,
    readonly x: StepSlot,
    readonly y: StepSlot,
    /** Per linear of the chain: its residual's storage. */
    readonly residuals: (StepSlot | undefined)[],
    /** The output overlaps nothing the chain reads: devices write their rows of it directly. */
    readonly direct: boolean,
  ) {
    this.#lists = dense.devices.map(() => new CommandList(placed.group.linears.length + 1));
    this.#label = placed.group.linears.map((l) => l.node).join(" → ");
    this.#widest = Math.max(...placed.group.linears.map((l) => l.n));
    this.#int8 = placed.group.linears.some((l) => l.dtype === "i8");
  }

  run(rows: number): void {
    if (rows === 0) return;
    const linears = this.placed.group.linears;
    const last = linears.length - 1;
    const n = linears[last]!.n;
    const x = addressOf(this.x.data), y = addressOf(this.y.data);
    const res = this.residuals.map((r) => (r ? addressOf(r.data) : 0));
    const shares = rowShares(rows, this.dense.speeds, this.#int8);
    const outs = shares.map((share, d) => (this.direct ? { at: y + share.start * this.y.ld * 4, ld: this.y.ld } : { at: this.dense.scratch(d, "out", Math.max(1, share.end - share.start) * n * 4), ld: n }));
    this.placed.parts.forEach((part, d) => {
      const list = this.#lists[d]!;
      list.reset();
      const { start, end } = shares[d]!;
      const m = end - start;
      if (m === 0) return;
      const hidden = [0, 1].map((i) => this.dense.scratch(d, `chain${i}`, m * this.#widest * 4));
      let src = x + start * this.x.ld * 4, ld = this.x.ld;
      linears.forEach((l, i) => {
        const dst = i === last ? outs[d]! : { at: hidden[i % 2]!, ld: l.n };
        const { w, bias } = part.linears[i]!;
        const r = this.residuals[i];
        list.gemm(m, src, ld, w.handle as number, bias ? (bias.ptr as number) : null, activationCode(l.act), dst.at, dst.ld, r ? res[i]! + start * r.ld * 4 : null, r?.ld ?? 0);
        src = dst.at;
        ld = dst.ld;
      });
    });
    const counters = this.dense.counters;
    try {
      runAll(this.dense.devices, this.#lists);
    } catch (failure) {
      counters.failedBatches++;
      throw failure instanceof DeviceError ? new DeviceError(`replicated linears "${this.#label}": ${failure.message}`, failure.device) : failure;
    }
    counters.batches++;
    if (this.direct) return;
    shares.forEach((share, d) => {
      const m = share.end - share.start;
      if (m > 0) check(native().rf_activation(null, 0, m, n, outs[d]!.at as unknown as Pointer, n, (y + share.start * this.y.ld * 4) as unknown as Pointer, this.y.ld), "rf_activation");
    });
  }
}
