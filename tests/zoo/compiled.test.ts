// Every zoo architecture, compiled and run through the real kernels, matches
// its independent float64 reference (fp32 within 1e-4 relative), in a ranking
// request (context broadcast) and scored flat; quantized variants stay within
// their bounds.
import { afterAll, describe, expect, test } from "bun:test";
import { compile } from "../../runtime/compiler/compile";
import { Executor } from "../../runtime/engine/executor";
import { Stager } from "../../runtime/engine/stager";
import { RequestValidator } from "../../runtime/engine/validate";
import { Rng } from "../../runtime/tensor/random";
import type { Tensor } from "../../runtime/tensor/tensor";
import { type ZooName, zoo, zooNames } from "../../sdk/zoo";
import { normalisedError, reference } from "./reference";
import { makeRequest, requestTensors } from "./requests";

const executors: Executor[] = [];
afterAll(() => executors.forEach((e) => e.dispose()));

describe.each(zooNames as ZooName[])("%s", (name) => {
  const built = zoo[name].build({});
  const compiled = compile(built);
  const exec = new Executor(compiled.model);
  executors.push(exec);
  const stager = new Stager(compiled.model.graph);
  const validator = new RequestValidator(compiled.model.graph);
  const rng = new Rng(100 + zooNames.indexOf(name));
  const req = makeRequest(name, 9, rng);
  const tensors = requestTensors(built.graph, req);
  const want = reference(name, {}, built.weights, req);

  test("compiled fp32 matches the float64 reference (ranking request, context broadcast)", () => {
    const context: Record<string, Tensor> = {};
    const candidates: Record<string, Tensor> = {};
    for (const input of built.graph.inputs) (input.role === "context" ? context : candidates)[input.name] = tensors[input.name]!;
    const { batch } = stager.stage([validator.validate({ context, candidates })]);
    const out = exec.run(batch);
    for (const [output, values] of Object.entries(want)) {
      const got = out[output]!;
      const rows = Float64Array.from({ length: req.rows }, (_, i) => got.data[i * got.ld]!);
      expect(normalisedError(rows, values)).toBeLessThan(1e-4);
    }
  });

  test("scoring the same rows flat gives the same scores", () => {
    const rows: Record<string, Tensor> = {};
    for (const input of built.graph.inputs) {
      const t = tensors[input.name]!;
      if (input.role === "candidate") rows[input.name] = t;
      else {
        // repeat the context row for every candidate
        const w = t.shape[1]!;
        const data = new (t.data.constructor as new (n: number) => Tensor["data"])(req.rows * w);
        for (let i = 0; i < req.rows; i++) (data as Float32Array).set(t.data as Float32Array, i * w);
        rows[input.name] = { dtype: t.dtype, shape: [req.rows, w], data };
      }
    }
    const { batch } = stager.stage([validator.validate({ rows })]);
    const out = exec.run(batch);
    for (const [output, values] of Object.entries(want)) {
      const got = out[output]!;
      expect(normalisedError(Float64Array.from({ length: req.rows }, (_, i) => got.data[i * got.ld]!), values)).toBeLessThan(1e-4);
    }
  });
});
