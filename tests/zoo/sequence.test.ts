// The sequence zoo models (hstu, rankmixer) through the real kernels against
// their independent float64 references (tests/zoo/reference-sequence.ts), in the
// cases the generic zoo suites do not reach: several requests of different
// history lengths (empty, one event, full) in one batch (the HSTU op's jagged
// per-request items), candidates scored alone or among others, non-default
// architectures, and bad graphs refused with a GraphError naming the node.
// Tolerance: normalised error 1e-4 (fp32 kernels vs float64), as compiled.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { Executor } from "../../runtime/engine/executor";
import { Stager } from "../../runtime/engine/stager";
import { RequestValidator } from "../../runtime/engine/validate";
import { GraphBuilder } from "../../runtime/graph/builder";
import { inferGraph } from "../../runtime/graph/infer";
import { GraphError } from "../../runtime/graph/schema";
import { Rng } from "../../runtime/tensor/random";
import type { Tensor } from "../../runtime/tensor/tensor";
import { type ZooOptions, flopsPerRow, zoo } from "../../sdk/zoo";
import { normalisedError, reference } from "./reference";
import { type ZooRequest, makeRequest, requestTensors } from "./requests";

const TOL = 1e-4;
const executors: Executor[] = [];
afterAll(() => executors.forEach((e) => e.dispose()));

type Name = "hstu" | "rankmixer";

/** Compile `name` with `options` and score several requests in one batch; returns each request's ctr. */
function scorer<N extends Name>(name: N, options: Partial<ZooOptions[N]>) {
  const built = (zoo[name].build as (o: Partial<ZooOptions[N]>) => ReturnType<typeof zoo.hstu.build>)(options);
  const { model } = compile(built);
  const exec = new Executor(model);
  executors.push(exec);
  const stager = new Stager(model.graph);
  const validator = new RequestValidator(model.graph);
  return {
    built,
    score(reqs: ZooRequest[]): Float64Array[] {
      const validated = reqs.map((req) => {
        const t = requestTensors(built.graph, req);
        const context: Record<string, Tensor> = {};
        const candidates: Record<string, Tensor> = {};
        for (const input of built.graph.inputs) (input.role === "context" ? context : candidates)[input.name] = t[input.name]!;
        return validator.validate({ context, candidates });
      });
      const out = exec.run(stager.stage(validated).batch).ctr!;
      let at = 0;
      return reqs.map((req) => Float64Array.from({ length: req.rows }, () => out.data[at++ * out.ld]!));
    },
  };
}

/** A request whose history holds exactly `events` events (oldest side padded). */
function withHistory(req: ZooRequest, events: number, L: number): ZooRequest {
  const items = req.context.hist_items!.map((_, t) => (t >= L - events ? (t * 7919 + 13) % 10_000 : -1));
  return { ...req, context: { ...req.context, hist_items: items } };
}

describe("hstu", () => {
  const options = { historyLength: 48, embeddingDim: 32, heads: 2, qkDim: 16, vDim: 16, layers: 2, rabBuckets: 8 };
  const s = scorer("hstu", options);

  test("a batch of requests with histories of 0, 1, 17 and 48 events matches each request's reference", () => {
    const rng = new Rng(21);
    const reqs = [0, 1, 17, 48].map((events, i) => withHistory(makeRequest("hstu", 3 + 2 * i, rng, options), events, 48));
    const got = s.score(reqs);
    reqs.forEach((req, i) => expect(normalisedError(got[i]!, reference("hstu", options, s.built.weights, req).ctr!)).toBeLessThan(TOL));
    // Scored alone, each request gives the same scores (the jagged items do not leak between requests).
    reqs.forEach((req, i) => expect(normalisedError(s.score([req])[0]!, got[i]!)).toBeLessThan(1e-5));
  });

  test("a candidate's score does not depend on the other candidates (M-FALCON: they never see each other)", () => {
    const req = withHistory(makeRequest("hstu", 6, new Rng(5), options), 30, 48);
    const all = s.score([req])[0]!;
    for (const i of [0, 3, 5]) {
      const alone = { ...req, rows: 1, candidates: { item_id: [req.candidates.item_id![i]!] } };
      expect(Math.abs(s.score([alone])[0]![0]! - all[i]!)).toBeLessThan(1e-5);
    }
  });

  test("the history matters, and only its events: the padded slots' actions change nothing", () => {
    const req = withHistory(makeRequest("hstu", 4, new Rng(8), options), 20, 48);
    const base = s.score([req])[0]!;
    const actions = req.context.hist_actions!.map((a, t) => (t < 28 ? (a + 3) % 8 : a));
    expect(normalisedError(s.score([{ ...req, context: { ...req.context, hist_actions: actions } }])[0]!, base)).toBeLessThan(1e-6);
    const moved = withHistory(req, 21, 48);
    expect(normalisedError(s.score([moved])[0]!, base)).toBeGreaterThan(1e-4);
  });

  test("without a relative bias, with 1 layer and 4 heads, it still matches its reference", () => {
    const o = { historyLength: 20, embeddingDim: 24, heads: 4, qkDim: 8, vDim: 6, layers: 1, rabBuckets: 0, head: [16, 1] };
    const t = scorer("hstu", o);
    const reqs = [7, 20].map((events, i) => withHistory(makeRequest("hstu", 5, new Rng(30 + i), o), events, 20));
    t.score(reqs).forEach((got, i) => expect(normalisedError(got, reference("hstu", o, t.built.weights, reqs[i]!).ctr!)).toBeLessThan(TOL));
    expect(Object.keys(t.built.graph.weights).some((w) => w.endsWith(".rab"))).toBe(false);
  });

  test("with a bias by timestamp distance it matches its reference, and the times matter", () => {
    // 24 log buckets reach 2^23 s (97 days): the distances here are minutes to a month.
    const o = { ...options, rab: "time" as const, rabBuckets: 24 };
    const t = scorer("hstu", o);
    expect(t.built.graph.inputs.map((i) => i.name)).toEqual(["hist_items", "hist_actions", "hist_ts", "request_ts", "item_id"]);
    const rng = new Rng(44);
    const reqs = [0, 9, 48].map((events) => {
      const req = withHistory(makeRequest("hstu", 4, rng, o), events, 48);
      // Event times increasing (seconds, a few minutes apart), the request after the last one.
      const times = Array.from({ length: 48 }, (_, i) => 1_700_000_000 + i * 180 + (i % 5) * 7);
      return { ...req, context: { ...req.context, hist_ts: times, request_ts: [1_700_000_000 + 48 * 180 + 3_600] } };
    });
    const got = t.score(reqs);
    reqs.forEach((req, i) => expect(normalisedError(got[i]!, reference("hstu", o, t.built.weights, req).ctr!)).toBeLessThan(TOL));
    const later = { ...reqs[2]!, context: { ...reqs[2]!.context, request_ts: [1_700_000_000 + 86_400 * 30] } };
    expect(normalisedError(t.score([later])[0]!, got[2]!)).toBeGreaterThan(1e-4);
    expect(normalisedError(t.score([later])[0]!, reference("hstu", o, t.built.weights, later).ctr!)).toBeLessThan(TOL);
  });

  test("the history half is context work, counted once per request", () => {
    const flops = flopsPerRow(s.built.graph);
    // Per request: the W1/W2 GEMMs over 48 tokens dominate one candidate's work many times over.
    expect(flops.context).toBeGreaterThan(20 * flops.candidate);
    const d = 32;
    const gemm = 2 * 48 * d * (2 * 32 + 2 * 32) + 2 * 48 * 32 * d;
    // Layer 0 in full; the last layer's history tokens feed nothing, so it counts only its K/V GEMM.
    const kvOnly = 2 * 48 * d * (32 + 32);
    expect(flops.context).toBeGreaterThan(gemm + kvOnly);
    expect(flops.context).toBeLessThan(2 * gemm);
  });
});

describe("rankmixer", () => {
  test("non-default tokens, widths and blocks match the reference, in one batch of two requests", () => {
    const o = { multiHot: [1, 2, 1, 1, 3], tableRows: [40, 30, 20, 10, 5], contextFeatures: 2, tokens: 3, tokenDim: 12, ffnHidden: 10, blocks: 3, embeddingDim: 8, scale: 1 };
    const t = scorer("rankmixer", o);
    const reqs = [makeRequest("rankmixer", 4, new Rng(2), o), makeRequest("rankmixer", 7, new Rng(3), o)];
    t.score(reqs).forEach((got, i) => expect(normalisedError(got, reference("rankmixer", o, t.built.weights, reqs[i]!).ctr!)).toBeLessThan(TOL));
  });

  test("the sparse-MoE variant (per-token experts, ReLU routing) matches the reference, capped and uncapped", () => {
    for (const moe of [{ experts: 5, topK: 2, hidden: 12 }, { experts: 4, topK: 4, hidden: 9 }]) {
      const o = { multiHot: [1, 2, 1, 1, 3], tableRows: [40, 30, 20, 10, 5], contextFeatures: 2, tokens: 3, tokenDim: 12, blocks: 2, embeddingDim: 8, scale: 1, moe };
      const t = scorer("rankmixer", o);
      const reqs = [makeRequest("rankmixer", 5, new Rng(4), o), makeRequest("rankmixer", 9, new Rng(5), o)];
      t.score(reqs).forEach((got, i) => expect(normalisedError(got, reference("rankmixer", o, t.built.weights, reqs[i]!).ctr!)).toBeLessThan(TOL));
    }
    expect(() => zoo.rankmixer.build({ moe: { experts: 2, topK: 3, hidden: 8 } })).toThrow("moe topK 3 exceeds the 2 experts");
  });

  test("options that cannot form tokens are refused", () => {
    expect(() => zoo.rankmixer.build({ tokens: 3 })).toThrow("3 tokens do not divide the 8 feature embeddings");
    expect(() => zoo.rankmixer.build({ tokens: 8, tokenDim: 12 })).toThrow("tokenDim 12 does not split into 8 heads");
    expect(() => zoo.hstu.build({ rabBuckets: -1 })).toThrow("rabBuckets must be an integer >= 0");
  });
});

describe("sequence ops refuse bad graphs with a GraphError naming the node", () => {
  const bad = (make: (b: GraphBuilder) => void, message: string) => {
    const b = new GraphBuilder("bad");
    make(b);
    let err: unknown;
    try {
      b.build();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GraphError);
    expect((err as Error).message).toContain(message);
  };

  test("token_mix and grouped_linear", () => {
    bad((b) => b.output("y", b.node("token_mix", [b.input("x", "f32", 10, "candidate")], 10, { tokens: 3, heads: 3 }, "mix")), 'node "mix" (token_mix): rows of 10 elements are not 3 tokens');
    bad((b) => b.output("y", b.node("token_mix", [b.input("x", "f32", 12, "candidate")], 12, { tokens: 2, heads: 4 }, "mix")), "the token width 6 does not split into 4 heads");
    bad((b) => {
      const w = b.randomWeight("w", [3, 4, 5], 0.1);
      b.output("y", b.node("grouped_linear", [b.input("x", "f32", 12, "candidate"), w], 12, { groups: 3 }, "g"));
    }, 'node "g" (grouped_linear): input 1 must be an f32 weight [groups = 3, n, k = 4]');
  });

  test("hstu_history and hstu_candidates", () => {
    const weights = (b: GraphBuilder, d: number, rows = 4 * 2 * 3) => [
      b.randomWeight("W1", [rows, d], 0.1), b.randomWeight("b1", [rows], 0.1), b.randomWeight("g", [6], 0.1),
      b.randomWeight("be", [6], 0.1), b.randomWeight("W2", [d, 6], 0.1), b.randomWeight("b2", [d], 0.1),
    ];
    const attrs = { heads: 2, qkDim: 3, vDim: 3 };
    bad((b) => {
      const ids = b.input("ids", "i64", 5, "context", { padding: -1 });
      const x = b.input("x", "f32", 5 * 4 + 1, "context");
      b.nodeOutputs("hstu_history", [x, ids, ...weights(b, 4)], [21, 60], attrs, "h");
      b.output("y", b.node("reduce_sum", [b.input("c", "f32", 1, "candidate")], 1));
    }, 'node "h" (hstu_history): x has 21 elements per row, not L = 5 tokens');
    bad((b) => {
      const ids = b.input("ids", "i64", 5, "context", { padding: -1 });
      const x = b.input("x", "f32", 20, "context");
      b.nodeOutputs("hstu_history", [x, ids, ...weights(b, 4, 23)], [20, 60], attrs, "h");
      b.output("y", b.node("reduce_sum", [b.input("c", "f32", 1, "candidate")], 1));
    }, 'weight "W1" (W1, rows U | V | Q | K) has shape [23, 4], expected [24, 4]');
    bad((b) => {
      const ids = b.input("ids", "i64", 5, "context", { padding: -1 });
      const kv = b.input("kv", "f32", 50, "context");
      b.output("y", b.node("hstu_candidates", [b.input("c", "f32", 4, "candidate"), kv, ids, ...weights(b, 4)], 4, attrs, "hc"));
    }, 'node "hc" (hstu_candidates): kv has 50 elements per row, expected L × H × (qkDim + vDim) = 60');
  });

  test("a well-formed pair infers its shapes and roles: history context, candidates candidate", () => {
    const { graph } = zoo.hstu.build({ historyLength: 8, embeddingDim: 8, heads: 1, qkDim: 4, vDim: 4, layers: 1 });
    const info = inferGraph(graph);
    expect(info.values.get("hstu_0.history:0")).toMatchObject({ shape: [64], role: "context" });
    expect(info.values.get("hstu_0.history:1")).toMatchObject({ shape: [64], role: "context" });
    expect(info.values.get("hstu_0.candidates:0")).toMatchObject({ shape: [8], role: "candidate" });
  });
});
