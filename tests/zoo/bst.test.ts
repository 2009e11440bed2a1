// The zoo bst model through the real kernels against its independent float64
// reference (tests/zoo/reference-bst.ts): several requests of different history
// lengths in one batch (each request's candidates attend to their own request's
// encoded history, read in place: no broadcast), a candidate scored alone, two blocks.
import { afterAll, describe, expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { Executor } from "../../runtime/engine/executor";
import { Stager } from "../../runtime/engine/stager";
import { RequestValidator } from "../../runtime/engine/validate";
import { Rng } from "../../runtime/tensor/random";
import { type ZooOptions, zoo } from "../../sdk/zoo";
import { normalisedError, reference } from "./reference";
import { type ZooRequest, makeRequest, requestTensors } from "./requests";

const TOL = 1e-4;
const executors: Executor[] = [];
afterAll(() => executors.forEach((e) => e.dispose()));

function scorer(options: Partial<ZooOptions["bst"]>) {
  const built = zoo.bst.build(options);
  const exec = new Executor(compile(built).model);
  executors.push(exec);
  const stager = new Stager(exec.model.graph);
  const validator = new RequestValidator(exec.model.graph);
  return {
    built,
    score(reqs: ZooRequest[]): Float64Array[] {
      const validated = reqs.map((req) => {
        const t = requestTensors(built.graph, req);
        return validator.validate({ context: { hist: t.hist! }, candidates: { item_id: t.item_id! } });
      });
      const out = exec.run(stager.stage(validated).batch).ctr!;
      let at = 0;
      return reqs.map((req) => Float64Array.from({ length: req.rows }, () => out.data[at++ * out.ld]!));
    },
  };
}

/** A request whose history holds exactly `events` items (oldest side padded). */
function withHistory(req: ZooRequest, events: number, L: number): ZooRequest {
  return { ...req, context: { hist: req.context.hist!.map((_, t) => (t >= L - events ? (t * 7919 + 13) % 10_000 : -1)) } };
}

describe("bst", () => {
  test("attention sees only the events: the same 17-event history scores the same in 40 or 70 slots", () => {
    const base = { embeddingDim: 16, heads: 2, ffnDim: 24, layers: 2 };
    const [short, long] = [40, 70].map((L) => ({ L, s: scorer({ ...base, historyLength: L }) }));
    const rng = new Rng(5);
    const req = makeRequest("bst", 6, rng, { ...base, historyLength: 40 });
    const events = Array.from({ length: 17 }, (_, t) => (t * 7919 + 13) % 10_000);
    const scores = [short!, long!].map(({ L, s }) => s.score([{ ...req, context: { hist: [...new Array(L - 17).fill(-1), ...events] } }])[0]!);
    expect(normalisedError(scores[1]!, Float64Array.from(scores[0]!))).toBeLessThan(1e-5);
  });

  for (const options of [{ historyLength: 40, embeddingDim: 16, heads: 2, ffnDim: 24, layers: 1 }, { historyLength: 70, embeddingDim: 24, heads: 3, ffnDim: 32, layers: 2 }]) {
    test(`L=${options.historyLength} d=${options.embeddingDim} heads=${options.heads} layers=${options.layers}: a batch of requests matches each request's reference`, () => {
      const s = scorer(options);
      const rng = new Rng(31);
      const L = options.historyLength;
      const reqs = [0, 1, 17, L].map((events, i) => withHistory(makeRequest("bst", 2 + 3 * i, rng, options), events, L));
      const got = s.score(reqs);
      reqs.forEach((req, i) => expect(normalisedError(got[i]!, reference("bst", options, s.built.weights, req).ctr!)).toBeLessThan(TOL));
      // A candidate scored alone gets its score among the others (targets never see each other).
      const alone = { ...reqs[2]!, rows: 1, candidates: { item_id: [reqs[2]!.candidates.item_id![3]!] } };
      expect(Math.abs(s.score([alone])[0]![0]! - got[2]![3]!)).toBeLessThan(1e-5);
    });
  }

  test("the targets read the history's K/V in place: nothing of the history is broadcast to candidates", () => {
    const { model } = compile(zoo.bst.build({ historyLength: 16, embeddingDim: 8 }));
    expect(model.graph.nodes.filter((n) => n.op === "broadcast").map((n) => n.inputs[0])).toEqual([]);
    const target = model.graph.nodes.find((n) => n.op === "attention" && n.name === "target.attention")!;
    expect(target.inputs[1]).toBe("target.kv:0");
  });
});

