// Step of `gru_sequence` (runtime/graph/sequence-ops.ts): one rf_gru_sequence
// call over the batch's rows (row strides passed through, so gx may be a
// column window of a wider value).
import { type StepBuilder, rowsOf } from "../plan-context";
import { step } from "./tensor-operands";

const gruSequence: StepBuilder = (node, ctx) => {
  const [gxName, rtName, rbName] = node.inputs as [string, string, string | undefined];
  const gx = ctx.slot(gxName);
  const y = ctx.slot(node.outputs[0]!);
  const [steps, h] = ctx.values.get(node.outputs[0]!)!.shape as [number, number];
  const rt = ctx.weight(rtName).data as Float32Array;
  const rb = rbName ? (ctx.weight(rbName).data as Float32Array) : null;
  const lbr = ctx.attrs(node).linearBeforeReset ? 1 : 0;
  return step(node, (s) => ctx.check(ctx.sym.rf_gru_sequence(null, rowsOf(y, s), steps, h, gx.data, gx.ld, rt, rb, lbr, y.data, y.ld), node));
};

export const recurrentSteps: Record<string, StepBuilder> = { gru_sequence: gruSequence };
