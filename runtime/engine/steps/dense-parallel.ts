// Steps of the linears a model runs over devices (`parallel.dense`): the first
// linear of each group (runtime/parallel/linear-pairs.ts) runs the whole group
// — a tensor-parallel pair or column slice (tensor-parallel.ts) or a chain's
// row shares (replicated-chain.ts) — and the group's later linears get a step
// that does nothing (their work is done by then).
import type { Node } from "../../graph/schema";
import type { DenseParallel } from "../../parallel/dense-parallel";
import { ReplicatedChain } from "../../parallel/replicated-chain";
import { type StepSlot, TensorParallelGroup } from "../../parallel/tensor-parallel";
import { type PlanContext, type Slot, type StepBuilder, rowsOf } from "../plan-context";

/** Do the stored places of two values (over the plan's capacity) overlap? */
function overlaps(ctx: PlanContext, a: string, b: string): boolean {
  const p = ctx.storage(a), q = ctx.storage(b);
  if (p.buffer !== q.buffer) return false;
  return p.byteOffset < q.byteOffset + q.byteLength && q.byteOffset < p.byteOffset + p.byteLength;
}

/** The step builder of `node` when it belongs to a dense parallel group. */
export function denseParallelStep(dense: DenseParallel, node: Node): StepBuilder | undefined {
  if (dense.runsInGroup(node.name)) return () => ({ node: node.name, op: node.op, run: () => {} });
  const placed = dense.groupAt(node.name);
  if (!placed) return undefined;
  return (_node, ctx) => {
    const linears = placed.group.linears;
    const first = linears[0]!, last = linears.at(-1)!;
    const x: Slot = ctx.slot(first.x), y: Slot = ctx.slot(last.y);
    const residuals: (StepSlot | undefined)[] = linears.map((l) => (l.residual ? ctx.slot(l.residual) : undefined));
    // What the devices read while the output is written (a pair: its input and first residual; a chain: every input it reads).
    const read = placed.group.kind === "pair" ? [first.x, first.residual] : [first.x, ...linears.map((l) => l.residual)];
    const direct = read.every((name) => !name || !overlaps(ctx, name, last.y));
    const runner = placed.group.kind === "rows" ? new ReplicatedChain(dense, placed, x, y, residuals, direct) : new TensorParallelGroup(dense, placed, x, y, residuals, direct);
    return { node: node.name, op: node.op, run: (s) => runner.run(rowsOf(y, s)) };
  };
}
