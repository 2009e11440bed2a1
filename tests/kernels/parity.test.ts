// The parity suite: one case table (op × dtype × shape) run on every CPU code
// path this machine supports, each compared with the float64 reference.
// `RANKFN_BACKEND=<name> bun test tests/kernels` runs it against another backend.
import { afterAll, describe, expect, test } from "bun:test";
import * as k from "../../runtime/ffi";
import { denseCases } from "./cases/dense";
import { sparseCases } from "./cases/sparse";
import { tensorCases } from "./cases/tensor";
import { sequenceCases } from "./cases/sequence";
import { expectParity } from "./parity";

const cases = [...denseCases(), ...sparseCases(), ...tensorCases(), ...sequenceCases()];
const isas = k.supportedIsas();
const initial = { isa: k.isa().active, threads: k.numThreads() };
const byOp = Map.groupBy(cases, (c) => c.op);

afterAll(() => {
  k.setIsa(initial.isa);
  k.setNumThreads(initial.threads);
});

describe.each(isas)("isa %s", (isa) => {
  for (const [op, opCases] of byOp) {
    test(`${op} (${opCases.length} cases)`, () => {
      k.setIsa(isa);
      k.setNumThreads(initial.threads);
      for (const c of opCases) expectParity(c);
    });
  }
});

// Results must not depend on how the pool splits the work.
describe.each([1, 3])(`isa ${k.isa().best}, %i threads`, (threads) => {
  for (const [op, opCases] of byOp) {
    test(op, () => {
      k.setIsa(k.isa().best);
      k.setNumThreads(threads);
      for (const c of opCases) expectParity(c);
    });
  }
});

test("the suite covers the reference and the best path of this CPU", () => {
  expect(isas[0]).toBe("ref");
  expect(isas.at(-1)).toBe(k.isa().best);
  expect(cases.length).toBeGreaterThan(300);
});
