// The parity harness: a case runs an op through the typed FFI wrapper and
// returns its outputs; `expected` is the float64 reference. Every case runs on
// every ISA this CPU supports (the C reference path included).
import { expect } from "bun:test";

export type DTypeTag = "f32" | "f16" | "bf16" | "u8q" | "u4q" | "i8" | "i32" | "i64" | "bool";

export interface ParityCase {
  op: string;
  dtype: DTypeTag;
  /** Shape and options, for the test name. */
  label: string;
  /** Normalised tolerance: max |got - want| / max(|want|, 1) across outputs. */
  tol: number;
  run(): ArrayLike<number>[];
  expected(): ArrayLike<number>[];
}

/** Tolerances per dtype, and why. */
export const tolerance = {
  // fp32 accumulation order differs between paths (FMA, blocking): a few ulps × sqrt(k).
  f32: 2e-5,
  // bf16 GEMM is weight-only: the reference uses the same (widened) weights, so fp32 rounding remains.
  bf16: 2e-5,
  // int8 GEMM quantizes each x row to 8 bits: ~1/254 of the row's range per element.
  i8: 2.5e-2,
  // int8 weights with 16-bit activations (rf_weight_set_act_bits): ~1/L of the row's range, L >= 4091 up to k = 4100.
  i8w16: 2e-3,
  // Stored f16/bf16/u8q tables: every path dequantizes the same bits, so only fp32 rounding remains.
  table: 2e-5,
} as const;

/** Normalised max error between got and want (NaN positions must match). */
export function normalisedError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let scale = 1;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i]!)) scale = Math.max(scale, Math.abs(want[i]!));
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) return Infinity;
      continue;
    }
    if (!Number.isFinite(w)) {
      if (g !== w) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(g - w) / scale);
  }
  return worst;
}

export function expectParity(c: ParityCase): void {
  const got = c.run();
  const want = c.expected();
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const err = normalisedError(g, want[i]!);
    if (!(err <= c.tol)) throw new Error(`${c.op} ${c.dtype} ${c.label}: output ${i} normalised error ${err.toExponential(2)} > ${c.tol}`);
  });
}
