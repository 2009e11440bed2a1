// Request and response types of the public API (defined by the engine, which
// validates each request against the model's inputs: runtime/engine/validate.ts).
export type { FlatRequest, RankingRequest, RankRequest, RankResponse } from "../runtime/engine/request";
