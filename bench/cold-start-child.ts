// Child process of `bench model`: time loadModel and the first scores of a
// model file in a fresh process, print JSON.
import { loadModel } from "../sdk";
import { sampleRequests } from "../sdk/sample-requests";
import { readModel } from "../runtime/model/model-file";

const path = process.argv[2]!;
const t0 = performance.now();
const model = loadModel(path);
const loadMs = performance.now() - t0;
// Requests are generated from the mapped file's graph (outside the timed region it would be cheating
// to build them first; the generation is tiny next to the load).
const [req] = sampleRequests(readModel(path), { count: 1, candidates: 16 });
const t1 = performance.now();
await model.rank(req!);
const firstScoresMs = loadMs + (performance.now() - t1);
console.log(JSON.stringify({ loadMs, firstScoresMs }));
