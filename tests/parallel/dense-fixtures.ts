// Shared pieces of the dense-parallel tests: a chain of linears with odd widths,
// a residual and an output narrower than three devices, and its requests.
import { GraphBuilder } from "../../runtime/graph/builder";
import type { BuiltModel } from "../../runtime/graph/builder";
import type { RankRequest } from "../../runtime/engine/request";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";

/** x(7) → 13 relu → 7 (+ x residual) → 5 gelu → 3 tanh → 2 sigmoid: odd widths, a residual, an output narrower than 3 devices. */
export function oddChain(): BuiltModel {
  const b = new GraphBuilder("odd_chain", 3);
  const x = b.input("x", "f32", 7, "candidate");
  const h = b.linear(b.linear(x, 13, "relu", "l1"), 7, "none", "l2");
  const s = b.node("add", [h, x], 7);
  b.output("score", b.linear(b.linear(b.linear(s, 5, "gelu", "l3"), 3, "tanh", "l4"), 2, "sigmoid", "l5"));
  return b.build();
}
export const oddRequest = (rows: number, seed: number): RankRequest => {
  const rng = new Rng(seed);
  return { rows: { x: tensor("f32", [rows, 7], Float32Array.from({ length: rows * 7 }, () => rng.next() * 2 - 1)) } };
};


/** x(7) → 7 (+ x residual) → 13 relu → 3 sigmoid: a residual on the first (column-parallel) linear of a pair. */
export function residualFirstChain(): BuiltModel {
  const b = new GraphBuilder("residual_first", 5);
  const x = b.input("x", "f32", 7, "candidate");
  const s = b.node("add", [b.linear(x, 7, "none", "r1"), x], 7);
  b.output("score", b.linear(b.linear(s, 13, "relu", "r2"), 3, "sigmoid", "r3"));
  return b.build();
}
