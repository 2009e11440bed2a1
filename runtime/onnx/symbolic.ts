// Shape arithmetic with the batch size as the one unknown. Exporters compute
// reshape targets, sizes and EmbeddingBag offsets from Shape/Size of their
// inputs; each such integer is c + n·N here (N = rows in the batch), vectors
// are lists of them or an arithmetic progression (Range). Everything that
// does not mention N folds to a constant.

/** c + n·N. */
export interface Sym {
  c: number;
  n: number;
}

/** An integer vector known up to N: explicit items, or start + step·i for i < count. */
export type SymVec = { items: Sym[] } | { arange: { start: Sym; step: number; count: Sym } };

export const sym = (c: number, n = 0): Sym => ({ c, n });
export const BATCH: Sym = { c: 0, n: 1 };
export const isConst = (s: Sym): boolean => s.n === 0;
export const symEq = (a: Sym, b: Sym): boolean => a.c === b.c && a.n === b.n;
export const symStr = (s: Sym): string => (s.n === 0 ? String(s.c) : `${s.n === 1 ? "" : s.n}N${s.c ? (s.c > 0 ? `+${s.c}` : s.c) : ""}`);

export function symAdd(a: Sym, b: Sym): Sym {
  return { c: a.c + b.c, n: a.n + b.n };
}

export function symSub(a: Sym, b: Sym): Sym {
  return { c: a.c - b.c, n: a.n - b.n };
}

/** Product; undefined when both sides mention N (N² is outside what exporters need). */
export function symMul(a: Sym, b: Sym): Sym | undefined {
  if (a.n !== 0 && b.n !== 0) return undefined;
  if (a.n === 0) return { c: a.c * b.c, n: a.c * b.n };
  return { c: a.c * b.c, n: a.n * b.c };
}

/** Exact division by a constant; undefined when it does not divide for every N. */
export function symDiv(a: Sym, b: Sym): Sym | undefined {
  if (b.n !== 0 || b.c === 0) return undefined;
  if (a.n === 0) return { c: Math.trunc(a.c / b.c), n: 0 };
  if (a.c % b.c !== 0 || a.n % b.c !== 0) return undefined;
  return { c: a.c / b.c, n: a.n / b.c };
}

/** Explicit items, expanding a progression whose length is a constant. */
export function itemsOf(v: SymVec): Sym[] | undefined {
  if ("items" in v) return v.items;
  const { start, step, count } = v.arange;
  if (!isConst(count)) return undefined;
  return Array.from({ length: count.c }, (_, i) => symAdd(start, sym(step * i)));
}

export function lengthOf(v: SymVec): Sym {
  return "items" in v ? sym(v.items.length) : v.arange.count;
}

/** Element i (constant index; negative counts from the end when the length is known). */
export function elementAt(v: SymVec, i: number): Sym | undefined {
  if ("items" in v) return v.items[i < 0 ? v.items.length + i : i];
  if (i < 0) return undefined;
  return symAdd(v.arange.start, sym(v.arange.step * i));
}

/** Concatenation; a progression followed by its own next element stays a progression. */
export function concatVecs(parts: SymVec[]): SymVec | undefined {
  const all = parts.map(itemsOf);
  if (all.every((p) => p !== undefined)) return { items: all.flat() as Sym[] };
  if (parts.length === 2 && "arange" in parts[0]! && "items" in parts[1]! && parts[1].items.length === 1) {
    const { start, step, count } = parts[0].arange;
    const next = symAdd(start, { c: step * count.c, n: step * count.n });
    if (symEq(next, parts[1].items[0]!)) return { arange: { start, step, count: symAdd(count, sym(1)) } };
  }
  return undefined;
}

/** ONNX Slice on axis 0 with step 1 (starts/ends clamp like the spec; ends ≥ 2^31 mean "to the end"). */
export function sliceVec(v: SymVec, start: number, end: number): SymVec | undefined {
  const items = itemsOf(v);
  if (items) {
    const len = items.length;
    const s = Math.max(0, Math.min(len, start < 0 ? len + start : start));
    const e = Math.max(0, Math.min(len, end < 0 ? len + end : end));
    return { items: items.slice(s, Math.max(s, e)) };
  }
  const { start: a0, step, count } = (v as { arange: { start: Sym; step: number; count: Sym } }).arange;
  if (start < 0) return undefined;
  const toEnd = end >= 2 ** 31 - 1;
  const newCount = toEnd ? symSub(count, sym(start)) : end < 0 ? symSub(count, sym(start - end)) : undefined;
  if (!newCount) return undefined;
  return { arange: { start: symAdd(a0, sym(step * start)), step, count: newCount } };
}

/** Range(start, limit, delta) with a constant delta that divides the span for every N. */
export function rangeVec(start: Sym, limit: Sym, delta: Sym): SymVec | undefined {
  if (!isConst(delta) || delta.c === 0) return undefined;
  const span = symSub(limit, start);
  if (isConst(span)) {
    const count = Math.max(0, Math.ceil(span.c / delta.c));
    return { arange: { start, step: delta.c, count: sym(count) } };
  }
  const count = symDiv(span, delta);
  return count ? { arange: { start, step: delta.c, count } } : undefined;
}

/** Elementwise op with ONNX broadcasting of a 1-element side. */
export function elementwise(a: SymVec, b: SymVec, f: (x: Sym, y: Sym) => Sym | undefined): SymVec | undefined {
  const x = itemsOf(a);
  const y = itemsOf(b);
  if (!x || !y) return undefined;
  if (x.length !== y.length && x.length !== 1 && y.length !== 1) return undefined;
  const n = Math.max(x.length, y.length);
  const out: Sym[] = [];
  for (let i = 0; i < n; i++) {
    const r = f(x[x.length === 1 ? 0 : i]!, y[y.length === 1 ? 0 : i]!);
    if (!r) return undefined;
    out.push(r);
  }
  return { items: out };
}

export function vecStr(v: SymVec): string {
  if ("items" in v) return `[${v.items.map(symStr).join(", ")}]`;
  const { start, step, count } = v.arange;
  return `range(${symStr(start)}, step ${step}, count ${symStr(count)})`;
}
