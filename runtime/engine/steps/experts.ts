// Step of the `experts` op (dense mixture experts lowered by
// runtime/moe/group-experts.ts): every chain computed on the devices that hold
// it, each into its own output slot; the mixture nodes then combine them.
import { denseExpertsLayer } from "../../moe/from-graph";
import { type StepBuilder, rowsOf } from "../plan-context";

const experts: StepBuilder = (node, ctx) => {
  const chains = ctx.attrs(node).chains as { input: number }[];
  const inputs = chains.map((c) => ctx.slot(node.inputs[c.input]!));
  const outputs = node.outputs.map((o) => ctx.slot(o));
  const layer = denseExpertsLayer(node, ctx);
  return { node: node.name, op: node.op, run: (s) => layer.runDense(rowsOf(outputs[0]!, s), inputs, outputs) };
};

export const expertSteps: Record<string, StepBuilder> = { experts };
