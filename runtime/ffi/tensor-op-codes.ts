// Names of the general tensor kernels' enums (rankfn.h: rf_unary_op,
// rf_binary_nd_op, rf_reduce_op), in code order: a name's index is its code.
// The graph IR spells ops by these names; steps turn them into codes here.

export const unaryNdOps = [
  "neg", "abs", "sqrt", "exp", "log", "erf", "relu", "sigmoid", "tanh", "not", "reciprocal",
  "floor", "ceil", "sign", "clip", "leaky_relu", "sin", "cos", "gelu", "silu", "round", "isnan", "softplus", "hardsigmoid",
] as const;
export type UnaryNdOp = (typeof unaryNdOps)[number];

export const binaryNdOps = ["add", "sub", "mul", "div", "pow", "max", "min", "mod", "fmod", "eq", "lt", "le", "gt", "ge", "and", "or", "xor"] as const;
export type BinaryNdOp = (typeof binaryNdOps)[number];

export const reduceOps = ["sum", "mean", "max", "min", "prod", "l1", "l2", "sum_square", "log_sum", "log_sum_exp", "argmax", "argmin"] as const;
export type ReduceOp = (typeof reduceOps)[number];

/** rf_scatter_nd reductions. */
export const scatterReductions = ["none", "add", "mul", "max", "min"] as const;

/** Unary ops defined on integers (the rest need f32; "not" needs bool). */
export const intUnaryOps: ReadonlySet<UnaryNdOp> = new Set(["neg", "abs", "sign", "clip", "relu"]);
/** Binary ops that produce bool. */
export const compareOps: ReadonlySet<BinaryNdOp> = new Set(["eq", "lt", "le", "gt", "ge"]);
/** Binary ops on bool operands only. */
export const logicalOps: ReadonlySet<BinaryNdOp> = new Set(["and", "or", "xor"]);
/** Reductions defined on integers. */
export const intReduceOps: ReadonlySet<ReduceOp> = new Set(["sum", "max", "min", "prod", "argmax", "argmin"]);
