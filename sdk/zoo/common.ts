// Shared pieces of the zoo builders: options every architecture takes, table
// row scaling, and small layer helpers written on top of GraphBuilder.node().
// Weight names are fixed and documented per architecture (the float64
// reference in tests/zoo/reference.ts looks weights up by these names).
import type { GraphBuilder } from "../../runtime/graph/builder";
import type { Activation } from "../../runtime/ffi/activations";
import { RankfnError } from "../../runtime/errors";

/** A zoo builder option is out of range or unknown: the caller's mistake (400). */
export function badOption(message: string): RankfnError {
  return new RankfnError(message, "bad_option", 400);
}

export interface CommonOptions {
  /** Seed of the weight generator: the same seed gives the same weights. */
  seed: number;
  /** Multiplier on the production table sizes (each table keeps at least 1 row). */
  scale: number;
}

/** Table rows scaled by `scale`, at least 1 each. */
export function scaleRows(rows: readonly number[], scale: number): number[] {
  if (!(scale > 0) || !Number.isFinite(scale)) throw badOption(`zoo: scale must be a positive number, got ${scale}`);
  return rows.map((r) => Math.max(1, Math.round(r * scale)));
}

/** Merge user options over defaults, refusing unknown keys (typos would silently be ignored otherwise). */
export function resolve<T extends object>(what: string, defaults: T, options: Partial<T> = {}): T {
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(defaults, key)) throw badOption(`zoo ${what}: unknown option "${key}" (known: ${Object.keys(defaults).join(", ")})`);
  }
  const out = { ...defaults };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** A linear layer named `prefix` (weights `${prefix}.weight` [n, k], `${prefix}.bias` [n]), then `act`. */
export function dense(b: GraphBuilder, x: string, n: number, act: Activation, prefix: string): string {
  return b.linear(x, n, act, prefix);
}

/** An MLP whose layer i is named `${prefix}.${i}`; `act` between layers, `last` after the final one. */
export function mlp(b: GraphBuilder, x: string, sizes: readonly number[], act: Activation, last: Activation, prefix: string): string {
  return b.mlp(x, sizes, act, last, prefix);
}

/** A sparse input `name` (i64 ids, `width` slots, padding -1). */
export function sparseInput(b: GraphBuilder, name: string, width: number, role: "context" | "candidate"): string {
  return b.input(name, "i64", width, role, { padding: -1 });
}

/**
 * A history input: i64 ids of up to `maxLength` events, oldest first, padding -1 on the oldest
 * side; requests may send any length (the most recent maxLength events are kept). Inputs of one
 * `group` are one history's per-event features (equal lengths).
 */
export function historyInput(b: GraphBuilder, name: string, maxLength: number, group: string): string {
  return b.input(name, "i64", maxLength, "context", { padding: -1, sequence: { maxLength, keep: "last", group } });
}

/** Pooled (sum) lookup of `ids` in a fresh table `${name}.table` [rows, dim]. */
export function bag(b: GraphBuilder, ids: string, rows: number, dim: number, name: string, scale = 0.05): string {
  return b.embeddingBag(ids, rows, dim, "sum", name, scale);
}

/** Pooled (sum) lookup of `ids` in an existing table weight (tables shared between features). */
export function bagShared(b: GraphBuilder, ids: string, table: string, dim: number, name: string): string {
  return b.node("embedding_bag", [ids, table], dim, { mode: "sum" }, name);
}

/** softmax(x · Wᵀ + b) over `n` entries: a gate named `prefix`. */
export function gate(b: GraphBuilder, x: string, n: number, prefix: string): string {
  const logits = b.linear(x, n, "none", prefix);
  return b.node("softmax", [logits], n, {}, `${prefix}.softmax`);
}

/** Σ_e gate[e] · expert_e. */
export function mixture(b: GraphBuilder, g: string, experts: string[], name: string): string {
  return b.node("mixture", [g, ...experts], b.width(experts[0]!), {}, name);
}

/** a + b, elementwise (same width). */
export function add(b: GraphBuilder, x: string, y: string, name: string): string {
  return b.node("add", [x, y], b.width(x), {}, name);
}

/** Sum of several [1] logits, then sigmoid, exposed as output `output`. */
export function sigmoidOfSum(b: GraphBuilder, logits: string[], output: string): string {
  let acc = logits[0]!;
  logits.slice(1).forEach((l, i) => (acc = add(b, acc, l, `${output}.sum${i}`)));
  const y = b.node("sigmoid", [acc], 1, {}, `${output}.sigmoid`);
  b.output(output, y);
  return y;
}

/** Check architecture sizes are positive integers. */
export function checkSizes(what: string, sizes: Record<string, number | readonly number[]>): void {
  for (const [k, v] of Object.entries(sizes)) {
    const list = typeof v === "number" ? [v] : v;
    if (!list.every((n) => Number.isSafeInteger(n) && n > 0)) throw badOption(`zoo ${what}: ${k} must be positive integers, got ${JSON.stringify(v)}`);
  }
}

/** The usual ranking-model inputs: dense features and sparse features, one table each. */
export interface FeatureOptions {
  denseFeatures: number;
  embeddingDim: number;
  /** Production table sizes (scaled by `scale`), one per sparse feature. */
  tableRows: readonly number[];
  /** Ids per bag of each sparse feature. */
  multiHot: readonly number[];
  /** The first `contextFeatures` sparse features are per-request (role context). */
  contextFeatures: number;
}

export const featureDefaults: FeatureOptions = {
  denseFeatures: 13,
  embeddingDim: 16,
  tableRows: [1_000_000, 500_000, 200_000, 50_000, 10_000, 1_000, 100, 20],
  multiHot: [1, 3, 1, 2, 1, 1, 4, 1],
  contextFeatures: 3,
};

export function checkFeatures(what: string, o: FeatureOptions): void {
  checkSizes(what, { denseFeatures: o.denseFeatures, embeddingDim: o.embeddingDim, tableRows: o.tableRows, multiHot: o.multiHot });
  if (o.tableRows.length !== o.multiHot.length) throw badOption(`zoo ${what}: tableRows and multiHot must have one entry per sparse feature`);
  if (!(o.contextFeatures >= 0 && o.contextFeatures <= o.multiHot.length)) throw badOption(`zoo ${what}: contextFeatures must be in 0..${o.multiHot.length}`);
}

/**
 * Inputs "dense" f32 (candidate) and "cat_i" i64 (padding -1, context for i < contextFeatures),
 * tables emb_i.table [rows_i, dim]; returns concat(dense, pooled embeddings).
 */
export function featureInputs(b: GraphBuilder, o: FeatureOptions, rows: readonly number[]): string {
  const x = b.input("dense", "f32", o.denseFeatures, "candidate");
  const embs = o.multiHot.map((l, i) => bag(b, sparseInput(b, `cat_${i}`, l, i < o.contextFeatures ? "context" : "candidate"), rows[i]!, o.embeddingDim, `emb_${i}`));
  return b.concat([x, ...embs]);
}
