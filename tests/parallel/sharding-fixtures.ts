// Shared pieces of the sharded-embedding tests: zoo requests as the engine takes
// them, a small model with every pooling mode and an odd dim, and comparison of
// every output of two models.
import { expect } from "bun:test";
import type { BuiltModel } from "../../runtime/graph/builder";
import { GraphBuilder } from "../../runtime/graph/builder";
import { Model, type ModelOptions } from "../../runtime/engine/model";
import { RankfnError } from "../../runtime/errors";
import type { RankingRequest } from "../../runtime/engine/request";
import { Rng } from "../../runtime/tensor/random";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";
import type { ZooName } from "../../sdk/zoo";
import { relError } from "../moe/fixtures";
import { makeRequest, requestTensors } from "../zoo/requests";

/** A zoo request of `rows` candidates for `built` (options as it was built with). */
export function zooRequest(name: ZooName, built: BuiltModel, rows: number, seed: number, options: object = {}): RankingRequest {
  const tensors = requestTensors(built.graph, makeRequest(name, rows, new Rng(seed), options as never));
  const context: Record<string, Tensor> = {};
  const candidates: Record<string, Tensor> = {};
  for (const input of built.graph.inputs) (input.role === "context" ? context : candidates)[input.name] = tensors[input.name]!;
  return { context, candidates };
}

/** The largest relative difference over every output of `got` and `want` for `req` (also checks it is a real comparison). */
export function worstDifference(got: Model, want: Model, req: RankingRequest): number {
  const a = got.rankSync(req).outputs;
  const b = want.rankSync(req).outputs;
  let worst = 0;
  for (const [name, w] of Object.entries(b)) {
    expect(Math.max(...Array.from(w.data, Math.abs))).toBeGreaterThan(0);
    worst = Math.max(worst, relError(a[name]!.data, w.data));
  }
  return worst;
}

/**
 * Three candidate tables pooled by "sum", "mean" and "gather", of `dim` columns (odd: uneven
 * column slices) and odd row counts, plus one context table: concat -> linear -> sigmoid.
 */
export function poolingModel(dim = 7): BuiltModel {
  const b = new GraphBuilder("pooling", 5);
  const sum = b.embeddingBag(b.input("s", "i64", 4, "candidate", { padding: -1 }), 13, dim, "sum", "sum_emb", 0.5);
  const mean = b.embeddingBag(b.input("m", "i64", 5, "candidate", { padding: -1 }), 9, dim, "mean", "mean_emb", 0.5);
  const gather = b.embeddingBag(b.input("g", "i64", 1, "candidate"), 5, dim, "gather", "gather_emb", 0.5);
  const user = b.embeddingBag(b.input("u", "i64", 3, "context", { padding: -1 }), 11, dim, "sum", "user_emb", 0.5);
  b.output("ctr", b.linear(b.concat([sum, mean, gather, user]), 1, "sigmoid", "head"));
  return b.build();
}

/** A request for poolingModel: `rows` candidates, some ids padded (-1), one bag empty. */
export function poolingRequest(rows: number, seed: number): RankingRequest {
  const rng = new Rng(seed);
  const ids = (n: number, width: number, table: number, pad: boolean) =>
    tensor("i64", [n, width], BigInt64Array.from({ length: n * width }, (_, i) => BigInt(pad && (rng.next() < 0.3 || i < width) ? -1 : rng.int(table))));
  return { context: { u: ids(1, 3, 11, true) }, candidates: { s: ids(rows, 4, 13, true), m: ids(rows, 5, 9, true), g: ids(rows, 1, 5, false) } };
}

/** Loading `built` with `options` is refused with a 400 whose message contains `message`; a model that loads anyway is disposed. */
export function expectBadOption(built: BuiltModel, options: ModelOptions, message: string): void {
  let err: unknown;
  try {
    new Model(built, options).dispose();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(RankfnError);
  expect((err as RankfnError).status).toBe(400);
  expect((err as Error).message).toContain(message);
}
