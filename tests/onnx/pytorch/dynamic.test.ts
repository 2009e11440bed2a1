// Histories whose length differs between requests, on real torch exports with
// the history length as a dynamic axis (dynamic.py): rankfn plans the model per
// size bucket and pads each request to its bucket. DIN masks its padding, so
// each request — alone, and in one call with requests of other lengths — must
// equal PyTorch run at exactly its own length; SASRec sees its padding, so it is
// padded to its full length, as PyTorch computed it. Tolerance: exports.ts's
// expectMatches, |got − want| ≤ 1e-4·|want| + 1e-5.
import { expect, test } from "bun:test";
import { dirname } from "node:path";
import { RankfnError } from "../../../runtime/errors";
import { tensor } from "../../../runtime/tensor/tensor";
import { loadModel } from "../../../sdk";
import { RankingClient } from "../../../sdk/client";
import type { RankingRequest } from "../../../sdk/request";
import { startServer } from "../../server/loopback";
import { type DynamicExport, describeWithTorch, dynamicExports, expectMatches, rankingRequest } from "./exports";

/** The request as a ranking request: its context inputs once (row 0), the rest per candidate. */
const asRequest = (m: DynamicExport, r: DynamicExport["requests"][number]): RankingRequest => rankingRequest(r.inputs, m.context);

describeWithTorch("dynamic history lengths on real exports", (python) => {
  const { maxLen, models } = dynamicExports(python);
  for (const m of models) {
    test(`${m.name} opset ${m.opset}: requests with histories of ${m.requests.map((r) => r.inputs.find((t) => t.name === m.history)!.shape[1]).join(", ")} events match PyTorch, alone and in one call`, async () => {
      const model = loadModel(m.path, { dims: { hist_len: maxLen }, padding: { to: m.padTo } });
      const reqs = m.requests.map((r) => asRequest(m, r));
      for (let i = 0; i < reqs.length; i++) {
        const got = await model.rank(reqs[i]!);
        expectMatches(`${m.name} request ${i} alone`, got.outputs[m.requests[i]!.outputs[0]!.name]!.data, m.requests[i]!.outputs[0]!.data as Float32Array);
      }
      const together = await model.rankMany(reqs);
      together.forEach((res, i) => expectMatches(`${m.name} request ${i} batched`, res.outputs[m.requests[i]!.outputs[0]!.name]!.data, m.requests[i]!.outputs[0]!.data as Float32Array));
      const sync = model.rankManySync(reqs.slice(0, 3));
      sync.forEach((res, i) => expectMatches(`${m.name} request ${i} sync`, res.outputs[m.requests[i]!.outputs[0]!.name]!.data, m.requests[i]!.outputs[0]!.data as Float32Array));
      // Planned per bucket: DIN in powers of two up to the largest size, SASRec at its full length only.
      const buckets = model.inspect().dims!.buckets.map((b) => b.hist_len);
      expect(buckets).toEqual(m.padTo === "max" ? [maxLen] : [8, 16, 32]);
      const stats = model.stats();
      expect(stats.requests).toBe(2 * reqs.length + 3);
      model.dispose();
    });
  }

  test("over HTTP (rankfn serve's setup: worker mode, coalescing on): concurrent requests of different lengths each get PyTorch's scores", async () => {
    const m = models.find((x) => x.name === "din" && x.opset === 17)!;
    const server = await startServer({ models: { din: m.path }, modelRoot: dirname(m.path), modelOptions: { worker: true, dims: { hist_len: maxLen } }, coalescing: { policy: "static", maxQueueDelayUs: 20_000 } });
    try {
      const client = new RankingClient({ url: server.url });
      const results = await Promise.all(m.requests.map((r) => client.rank("din", asRequest(m, r))));
      results.forEach((res, i) => expectMatches(`din over HTTP, request ${i}`, res.outputs.ctr!.data, m.requests[i]!.outputs[0]!.data as Float32Array));
      const res = await fetch(`${server.url}/v1/models/din`);
      expect(res.status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  test("a history longer than the largest size, a missing dims option and a badly shaped history are refused with errors naming them", async () => {
    const m = models.find((x) => x.name === "din")!;
    expect(() => loadModel(m.path)).toThrow(/input "hist" dimension 1 \("hist_len"\) is dynamic; give the largest size/);
    const model = loadModel(m.path, { dims: { hist_len: 8 } });
    const long = asRequest(m, m.requests.find((r) => r.inputs.find((t) => t.name === "hist")!.shape[1]! > 8)!);
    const err = await model.rank(long).catch((e) => e);
    expect(err).toBeInstanceOf(RankfnError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/context\.hist: hist_len = \d+ exceeds the model's largest hist_len \(8\)/);
    const short = asRequest(m, m.requests[1]!);
    const bad = { ...short, context: { ...short.context, hist: tensor("i64", [1, 3, 1, 1], new BigInt64Array(3)) } };
    await expect(model.rank(bad)).rejects.toThrow(/context\.hist: expected shape \[rows, hist_len\]/);
    model.dispose();
  });
});
