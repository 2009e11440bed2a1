// The request pipeline: validate() checks one request alone; run() scores
// validated requests as one batch and, when one request's own input still
// fails the batch inside the kernels, fails only that request — inline and on
// the worker. Scores are compared with each request ranked alone.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RankfnError, RequestError, loadModel, writeModel, zoo } from "../../sdk";
import type { RankResponse } from "../../sdk/request";
import { sampleRequests } from "../../sdk/sample-requests";

const dir = mkdtempSync(join(tmpdir(), "rankfn-pipeline-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const built = zoo.dlrm.build({ scale: 0.00001, seed: 3 });
const path = join(dir, "dlrm.safetensors");
writeModel(path, built);

test("validate() names the field of a bad request and returns a checked request for a good one", () => {
  const model = loadModel(path);
  const [req] = sampleRequests(built, { count: 1, candidates: 6, seed: 1 });
  const valid = model.validate(req);
  expect(valid.rows).toBe(6);
  expect(valid.contextRows).toBe(1);
  expect(() => model.validate({ candidates: {} })).toThrow(RequestError);
  const { dense: _dense, ...noDense } = req!.candidates;
  expect(() => model.validate({ ...req!, candidates: noDense }, "request 3: ")).toThrow("request 3: candidates.dense: missing feature");
  model.dispose();
});

for (const worker of [false, true]) {
  test(`${worker ? "worker" : "inline"}: a request whose ids fail inside the kernels fails alone; its batch-mates get their own scores`, async () => {
    const model = loadModel(path, { worker });
    await model.ready();
    const reqs = sampleRequests(built, { count: 3, candidates: 5, seed: 2 });
    const alone = await Promise.all(reqs.map((r) => model.rank(r)));
    const valid = reqs.map((r) => model.validate(structuredClone(r)));
    // Past validation, the middle request's ids change: only the kernels can catch it now
    // (what a computed id outside its table looks like).
    const ids = valid[1]!.tensors.get("cat_0")!.data as BigInt64Array;
    ids[2] = 10_000_000n;
    const results = await model.run(valid);
    expect(results.length).toBe(3);
    expect(results[1]).toBeInstanceOf(RankfnError);
    expect((results[1] as RankfnError).status).toBe(400);
    expect((results[1] as RankfnError).code).toBe("id_out_of_range");
    for (const i of [0, 2]) {
      const got = (results[i] as RankResponse).outputs.ctr!;
      expect(got.shape).toEqual([5, 1]);
      expect(Array.from(got.data)).toEqual(Array.from(alone[i]!.outputs.ctr!.data));
    }
    // The failure left nothing behind: the model still scores a batch.
    expect(await model.rankMany([reqs[0]!, reqs[2]!])).toHaveLength(2);
    model.dispose();
  });
}

test("an error that is no request's fault fails the whole call", async () => {
  const model = loadModel(path);
  const [req] = sampleRequests(built, { count: 1, candidates: 2, seed: 4 });
  const valid = model.validate(req);
  model.dispose();
  await expect(model.run([valid, valid])).rejects.toThrow("model used after dispose()");
});
