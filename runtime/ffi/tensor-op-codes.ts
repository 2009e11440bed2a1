// Op codes of the general tensor kernels (rf_unary_op, rf_binary_nd_op,
// rf_reduce_op in kernels/include/rankfn.h) as the TypeScript API spells them;
// a list's index is the C enum value (tests/kernels/symbols.test.ts parses the
// header and checks every name and value).

export const unaryOps = [
  "neg", "abs", "sqrt", "exp", "log", "erf", "relu", "sigmoid", "tanh", "not", "reciprocal", "floor", "ceil", "sign",
  "clip", "leaky_relu", "sin", "cos", "gelu", "silu", "round", "isnan", "softplus", "hardsigmoid",
] as const;
export type UnaryOp = (typeof unaryOps)[number];

export const binaryNdOps = ["add", "sub", "mul", "div", "pow", "max", "min", "mod", "fmod", "eq", "lt", "le", "gt", "ge", "and", "or", "xor"] as const;
export type BinaryNdOp = (typeof binaryNdOps)[number];

export const reduceOps = ["sum", "mean", "max", "min", "prod", "l1", "l2", "sum_square", "log_sum", "log_sum_exp", "argmax", "argmin"] as const;
export type ReduceOp = (typeof reduceOps)[number];

/** ScatterND reductions (rf_scatter_nd's `reduction`). */
export const scatterReductions = ["none", "add", "mul", "max", "min"] as const;
export type ScatterReduction = (typeof scatterReductions)[number];

/** Element dtypes of the general tensor kernels and their rf_dtype codes. */
export const ndDTypes = { f32: 0, i32: 5, i64: 6, bool: 7 } as const;
export type NdDType = keyof typeof ndDTypes;

/** The C enum prefix of each op list above (for the header check). */
export const tensorEnumPrefixes = { RF_UNARY_: unaryOps, RF_BIN_: binaryNdOps, RF_REDUCE_: reduceOps } as const;

/** Unary ops the kernels define on i32/i64 (the rest need f32; "not" needs bool). */
export const intUnaryOps: ReadonlySet<UnaryOp> = new Set(["neg", "abs", "sign", "clip", "relu"]);
/** Binary ops that produce bool. */
export const compareOps: ReadonlySet<BinaryNdOp> = new Set(["eq", "lt", "le", "gt", "ge"]);
/** Binary ops on bool operands only. */
export const logicalOps: ReadonlySet<BinaryNdOp> = new Set(["and", "or", "xor"]);
/** Reductions the kernels define on i32/i64. */
export const intReduceOps: ReadonlySet<ReduceOp> = new Set(["sum", "max", "min", "prod", "argmax", "argmin"]);
