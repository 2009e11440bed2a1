// Shape inference as a pass: validates the graph and reports how many values
// run per candidate and how many once per request.
import { inferGraph } from "../graph/infer";
import type { Pass } from "./pass";

export const inferShapes: Pass = {
  name: "infer-shapes",
  run(model) {
    const info = inferGraph(model.graph);
    let candidate = 0;
    let context = 0;
    for (const v of info.values.values()) v.role === "candidate" ? candidate++ : context++;
    return { model, summary: `infer-shapes: ${info.values.size} values typed (${candidate} per candidate, ${context} once per request)` };
  },
};
