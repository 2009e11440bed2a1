// Steps of the ops that pick elements of a row: select (constant columns),
// top_k (values and indices, through rf_topk) and gather_elements (per-row
// indices, each checked against the row before it is read).
import type { Node } from "../../graph/schema";
import { KernelError } from "../../errors";
import { type Step, type StepBuilder, rowsOf } from "../plan-context";

const RF_ERR_OUT_OF_RANGE = 2;

function step(node: Node, run: Step["run"]): Step {
  return { node: node.name, op: node.op, run };
}

const select: StepBuilder = (node, ctx) => {
  const columns = Int32Array.from(ctx.attrs(node).columns as number[]);
  const x = ctx.slot(node.inputs[0]!);
  const y = ctx.slot(node.outputs[0]!);
  return step(node, (s) => {
    const rows = rowsOf(y, s);
    for (let b = 0; b < rows; b++) {
      const src = b * x.ld;
      const dst = b * y.ld;
      for (let j = 0; j < columns.length; j++) y.data[dst + j] = x.data[src + columns[j]!]!;
    }
  });
};

const topK: StepBuilder = (node, ctx) => {
  const { k } = ctx.attrs(node);
  const x = ctx.slot(node.inputs[0]!);
  // rf_topk writes values and indices with one stride (k): values living inside a wider row
  // (a concat written in place) are copied out of the plan's scratch.
  const values = ctx.slot(node.outputs[0]!);
  const indices = ctx.idSlot(node.outputs[1]!).data as Int32Array;
  const direct = values.ld === k;
  const valuesOut = direct ? values.data : ctx.scratch(`${node.name}.values`, ctx.capacity * k);
  return step(node, (s) => {
    const rows = rowsOf(values, s);
    ctx.check(ctx.sym.rf_topk(null, rows, x.width, k, x.data, x.ld, valuesOut, indices, k), node);
    if (!direct) for (let b = 0; b < rows; b++) values.data.set(valuesOut.subarray(b * k, b * k + k), b * values.ld);
  });
};

const gatherElements: StepBuilder = (node, ctx) => {
  const x = ctx.slot(node.inputs[0]!);
  const idx = ctx.idSlot(node.inputs[1]!);
  const y = ctx.slot(node.outputs[0]!);
  const n = x.width;
  return step(node, (s) => {
    const rows = rowsOf(y, s);
    for (let b = 0; b < rows; b++) {
      for (let j = 0; j < y.width; j++) {
        const raw = Number(idx.data[b * idx.ld + j]!);
        const i = raw < 0 ? raw + n : raw;
        if (!(i >= 0 && i < n)) throw new KernelError(`node "${node.name}" (gather_elements): index ${raw} at row ${b} is outside the row's ${n} elements`, RF_ERR_OUT_OF_RANGE, node.op);
        y.data[b * y.ld + j] = x.data[b * x.ld + i]!;
      }
    }
  });
};

export const selectSteps: Record<string, StepBuilder> = {
  select,
  top_k: topK,
  gather_elements: gatherElements,
};
