// In-process ranking: write a zoo model (DCN-v2) to a file, load it (weights
// memory-mapped), score one user against 200 candidates, read the scores, and
// see how a malformed request is rejected. `bun examples/rank-in-process.ts`
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, RequestError, writeModel, zoo } from "../sdk";
import { sampleRequests } from "../sdk/sample-requests";

const path = join(mkdtempSync(join(tmpdir(), "rankfn-")), "dcnv2.safetensors");
writeModel(path, zoo.dcnv2.build({ seed: 3 }));

using model = loadModel(path, { threads: 2 });
for (const input of model.inspect().inputs) console.log(`input ${input.name.padEnd(6)} ${input.dtype} [${input.shape.join(", ")}] ${input.role}`);

// A ranking request: context features once (one row), candidate features per item.
const [request] = sampleRequests(zoo.dcnv2.build({ seed: 3 }), { count: 1, candidates: 200 });
const { outputs, timing } = await model.rank(request!);
const ctr = outputs.ctr!.data;
const best = Array.from(ctr.keys()).sort((a, b) => ctr[b]! - ctr[a]!).slice(0, 5);
console.log(`scored ${ctr.length} candidates in ${timing.computeMs.toFixed(2)} ms; best: ${best.map((i) => `#${i} (${ctr[i]!.toFixed(4)})`).join(", ")}`);

// Malformed input never reaches the kernels: a typed error names the field.
try {
  await model.rank({ context: request!.context, candidates: { ...request!.candidates, colour: request!.candidates.dense! } });
} catch (err) {
  if (!(err instanceof RequestError)) throw err;
  console.log(`rejected (${err.status} ${err.code}): ${err.message}`);
}

// The request's arrays were read by the kernels in place, and the scores written straight into
// the response's own array: nothing was copied on the way (stats().copies counts every stage).
const { staging, plan } = model.stats().copies;
console.log(`copies: ${staging.inPlace} inputs read in place, ${staging.copied + plan.inputsCopied} copied; ${plan.outputsInPlace} outputs written in place, ${plan.outputsCopied} copied`);
