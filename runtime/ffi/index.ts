// The typed interface to the kernel library. Import from here, never from bun:ffi.
export { loadLibrary, libraryPath, requestedDevices, declaredSymbols, staleness, isCI, ABI_VERSION } from "./library";
export { check } from "./native";
export * from "./device";
export * from "./activations";
export { PackedWeight, type WeightDType } from "./weights";
export * from "./dense-ops";
export * from "./sparse-ops";
export * from "./sequence-ops";
export * from "./emb-cache";
export * from "./kv-store";
export { CommandList, CommandOp, CMD_BYTES, type Address } from "./commands";
export { AttentionCall, ATTENTION_ARGS_BYTES, type AttentionCallFields } from "./attention-args";
export { BagTables, BAG_TABLE_BYTES, type BagTableFields } from "./bag-tables";
export { CoreGroupStream, type QueueStats } from "./core-group";
export * from "./tensor-op-codes";
export * from "./nd-array";
export * from "./tensor-ops";
