// Expert layers read from graph nodes: the experts of a sparse `moe` node
// (W1 → act → W2 per expert) as chains of linear layers, with quantized
// weights' scales, ready for an ExpertLayer.
import { GraphError, type Node } from "../graph/schema";
import type { PlanContext } from "../engine/plan-context";
import { activationCode } from "../ffi/activations";
import type { Tensor } from "../tensor/tensor";
import { ExpertLayer, type ExpertLinear } from "./expert-layer";


function linear(ctx: PlanContext, w: string, b: string, act: number): ExpertLinear {
  const scales = ctx.graph.weights[w]?.scales;
  return { w: ctx.weight(w), scales: scales ? ctx.weight(scales) : undefined, actBits: ctx.graph.weights[w]?.actBits, b: ctx.weight(b) as Tensor<"f32">, act };
}

/** The expert layer of sparse MoE node `node` (inputs: x, gate W, gate b, then W1, b1, W2, b2 per expert). */
export function sparseMoeLayer(node: Node, ctx: PlanContext, inWidth: number, outWidth: number): ExpertLayer | undefined {
  const parallel = ctx.experts;
  if (!parallel) return undefined;
  const { experts: E, act } = ctx.attrs(node);
  return parallel.layer(node.name, () => {
    const experts = Array.from({ length: E as number }, (_, e) => {
      const [w1, b1, w2, b2] = node.inputs.slice(3 + 4 * e, 7 + 4 * e) as [string, string, string, string];
      return [linear(ctx, w1, b1, activationCode(act)), linear(ctx, w2, b2, 0)];
    });
    return new ExpertLayer(node.name, experts, inWidth, outWidth, parallel.devices, parallel.options);
  });
}

/** The expert layer of an `experts` node (dense mixture experts grouped by group-experts). */
export function denseExpertsLayer(node: Node, ctx: PlanContext): ExpertLayer {
  const parallel = ctx.experts;
  if (!parallel) throw new GraphError(`node "${node.name}": experts nodes run only expert-parallel (no devices configured)`);
  return parallel.layer(node.name, () => {
    const chains = ctx.attrs(node).chains as { input: number; acts: string[] }[];
    const valueCount = node.inputs.findIndex((i) => ctx.isWeight(i));
    let at = valueCount;
    const experts = chains.map((c) =>
      c.acts.map((act) => {
        const l = linear(ctx, node.inputs[at]!, node.inputs[at + 1]!, activationCode(act));
        at += 2;
        return l;
      }),
    );
    const inWidth = experts[0]![0]!.w.shape[1]!;
    const outWidth = experts[0]!.at(-1)!.w.shape[0]!;
    return new ExpertLayer(node.name, experts, inWidth, outWidth, parallel.devices, parallel.options);
  });
}
