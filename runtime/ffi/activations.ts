// Names of the kernel library's enums, as the TypeScript API spells them.
import { TensorError } from "../errors";

export const activations = ["none", "relu", "gelu", "silu", "sigmoid", "tanh"] as const;
export type Activation = (typeof activations)[number];
/** rf_act code of an activation a validated graph names (-1 for any other name). */
export const activationCode = (name: string): number => activations.indexOf(name as Activation);

export const binaryOps = ["add", "sub", "mul", "div", "max", "min"] as const;
export type BinaryOp = (typeof binaryOps)[number];

export const poolModes = ["sum", "mean", "gather"] as const;
export type PoolMode = (typeof poolModes)[number];

/** The enum code of `name` in `names`, or a TensorError naming the valid values. */
export function enumCode<T extends string>(names: readonly T[], name: T, what: string): number {
  const code = names.indexOf(name);
  if (code < 0) throw new TensorError(`${what}: unknown value ${JSON.stringify(name)} (expected ${names.join(", ")})`, "bad_enum");
  return code;
}
