// The in-process model of the public API: the engine's Model (runtime/engine/model.ts),
// which validates each request, runs it through the native kernels and returns
// tensors the caller owns.
export { Model } from "../runtime/engine/model";
export type { ModelInspection, ModelOptions, ModelStats, TensorInfo } from "../runtime/engine/model";
