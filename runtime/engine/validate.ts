// Validation of ONE request against a model's inputs, before it may join a
// batch: feature names, roles, dtypes, shapes, row counts, finiteness, and the
// ids of every embedding table read under the "error" id policy. What passes is
// a ValidRequest (a different type from an unchecked request), so a batch is
// only ever formed from requests that cannot fail it for their own input.
import { RequestError } from "../errors";
import type { Graph, GraphInput } from "../graph/schema";
import { embeddingLookups } from "../graph/embedding-lookups";
import { type Tensor, validateTensor } from "../tensor/tensor";
import { dtypes } from "../tensor/dtype";
import { elementReader, unalignedBytes } from "../tensor/unaligned";
import type { RankRequest } from "./request";
import { userKey } from "./user-key";
import { type SequenceExtent, type Truncation, checkGroupLengths, sequenceExtent, sequenceLength, truncationOf } from "./sequence-inputs";

declare const checked: unique symbol;

/** A request that passed validate(): its tensors by input name and its row counts. */
export interface ValidRequest {
  readonly [checked]: true;
  /** Candidate rows (flat requests: rows). */
  readonly rows: number;
  /** Context rows: 1 for a ranking request, `rows` for a flat one. */
  readonly contextRows: number;
  /** Every graph input's tensor. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** The request as the caller sent it. */
  readonly request: RankRequest;
  /** The user key of a ranking request naming a `user` (the KV cache's key with the model version). */
  readonly user?: bigint;
  /** Ranking requests: each history (sequence) input's extent, as the stager copies it. */
  readonly sequences?: ReadonlyMap<string, SequenceExtent>;
  /** Histories longer than the model keeps: events sent and kept, by input (the response's `truncated`). */
  readonly truncated?: Readonly<Record<string, Truncation>>;
}

/** The largest id (exclusive) each id input may carry: the smallest table it indexes under the "error" policy. */
export function idBounds(graph: Graph): Map<string, { rows: number; table: string }> {
  const inputs = new Set(graph.inputs.map((i) => i.name));
  const bounds = new Map<string, { rows: number; table: string }>();
  for (const { ids, table, modulo } of embeddingLookups(graph)) {
    const rows = graph.weights[table]?.shape[0];
    if (!inputs.has(ids) || modulo || rows === undefined) continue;
    const have = bounds.get(ids);
    if (!have || rows < have.rows) bounds.set(ids, { rows, table });
  }
  return bounds;
}

const width = (input: GraphInput) => input.shape.reduce((a, b) => a * b, 1);

type SequenceInput = GraphInput & { sequence: NonNullable<GraphInput["sequence"]> };

/** Checks requests against one model's inputs. */
export class RequestValidator {
  readonly #inputs: GraphInput[];
  readonly #known: Set<string>;
  readonly #bounds: Map<string, { rows: number; table: string }>;

  constructor(graph: Graph) {
    this.#inputs = graph.inputs;
    this.#known = new Set(graph.inputs.map((i) => i.name));
    this.#bounds = idBounds(graph);
  }

  /**
   * Validate one request; throws a RequestError (400) naming the field, prefixed with `where`
   * (e.g. "request 2: ") when given.
   * @example const valid = validator.validate({ rows: { dense, sparse } });
   */
  validate(req: unknown, where = ""): ValidRequest {
    if (typeof req !== "object" || req === null) throw new RequestError(`${where}request must be an object with "rows" or "candidates"`);
    const r = req as Record<string, unknown>;
    const flat = "rows" in r;
    if (!flat && !("candidates" in r)) throw new RequestError(`${where}request must have "rows" or "candidates"`, "missing_field");
    const groups: [string, unknown][] = flat ? [["rows", r.rows]] : [["context", r.context], ["candidates", r.candidates]];
    const tensors = new Map<string, Tensor>();
    const groupOf = new Map<string, string>();
    for (const [group, feats] of groups) {
      if (feats === undefined) continue;
      if (typeof feats !== "object" || feats === null || Array.isArray(feats)) throw new RequestError(`${where}${group} must be an object of tensors`);
      for (const [name, t] of Object.entries(feats)) {
        if (!this.#known.has(name)) throw new RequestError(`${where}${group}.${name}: unknown feature (the model's inputs are ${[...this.#known].join(", ")})`, "unknown_feature");
        tensorAt(t, `${where}${group}.${name}`);
        tensors.set(name, t);
        groupOf.set(name, group);
      }
    }
    let rows = -1;
    for (const input of this.#inputs) {
      const group = flat ? "rows" : input.role === "context" ? "context" : "candidates";
      const t = tensors.get(input.name);
      const field = `${where}${group}.${input.name}`;
      if (!t || groupOf.get(input.name) !== group) {
        const misplaced = t !== undefined;
        throw new RequestError(`${field}: missing ${misplaced ? `(it is a ${input.role} feature: put it in "${group}")` : "feature"}`, "missing_feature");
      }
      // A ranking request's history is one row of any length ([n] or [1, n]); flat rows keep [rows, L].
      if (!flat && input.sequence) {
        sequenceLength(input as SequenceInput, t, field);
        if (t.strides !== undefined) throw new RequestError(`${field}: strided tensors are not accepted in requests (send contiguous data)`, "bad_strides");
        if (t.dtype !== "i32" && t.dtype !== "i64") throw new RequestError(`${field}: expected dtype i32 or i64 (event ids), got ${t.dtype}`, "bad_dtype");
        continue;
      }
      const w = width(input);
      // Rows of the input's per-row shape, or of that shape flattened.
      const full = input.shape.length > 1 && t.shape.length === input.shape.length + 1 && input.shape.every((d, j) => t.shape[j + 1] === d);
      const okShape = full || (t.shape.length === 2 && t.shape[1] === w) || (t.shape.length === 1 && w === 1);
      if (!okShape) {
        const shapes = [`[rows, ${w}]`, ...(input.shape.length > 1 ? [`[rows, ${input.shape.join(", ")}]`] : []), ...(w === 1 ? ["[rows]"] : [])];
        throw new RequestError(`${field}: expected shape ${shapes.join(" or ")}, got [${t.shape.join(", ")}]`, "bad_shape");
      }
      if (t.strides !== undefined) throw new RequestError(`${field}: strided tensors are not accepted in requests (send contiguous data)`, "bad_strides");
      const okDtype = input.dtype === "f32" || input.dtype === "bool" ? t.dtype === input.dtype : t.dtype === "i32" || t.dtype === "i64";
      if (!okDtype) throw new RequestError(`${field}: expected dtype ${input.dtype === "f32" || input.dtype === "bool" ? input.dtype : "i32 or i64"}, got ${t.dtype}`, "bad_dtype");
      const count = t.shape[0]!;
      if (!flat && input.role === "context") {
        if (count !== 1) throw new RequestError(`${field}: context features have exactly 1 row, got ${count}`, "bad_shape");
        continue;
      }
      if (rows >= 0 && count !== rows) throw new RequestError(`${field}: has ${count} rows, other features have ${rows}`, "row_mismatch");
      rows = count;
    }
    if (rows < 0) rows = flat ? Number(tensors.values().next().value?.shape[0] ?? 0) : 0;
    if (rows === 0) throw new RequestError(`${where}${flat ? "rows" : "candidates"}: empty — nothing to score`, "empty_request");
    const fieldOf = (name: string) => `${where}${groupOf.get(name)}.${name}`;
    let sequences: Map<string, SequenceExtent> | undefined;
    let truncated: Record<string, Truncation> | undefined;
    for (const input of this.#inputs) {
      const t = tensors.get(input.name)!;
      const field = fieldOf(input.name);
      // A tensor left unaligned in the request body is read where it lies (its data would be a copy).
      const values = elementsOf(t);
      if (!flat && input.sequence) {
        checkIds(values, t.dtype, input, field, this.#bounds.get(input.name), Math.max(1, values.count));
        const extent = sequenceExtent(input.sequence.maxLength, values.count, leadingPads(values, input.padding!));
        (sequences ??= new Map()).set(input.name, extent);
        const cut = truncationOf(extent);
        if (cut) (truncated ??= {})[input.name] = cut;
      } else if (input.dtype === "f32") {
        if (input.nonFinite !== "zero") checkFinite(values, field, width(input));
      } else if (input.dtype === "bool") {
        checkBools(values, field, width(input));
      } else {
        checkIds(values, t.dtype, input, field, this.#bounds.get(input.name));
      }
    }
    if (sequences) checkGroupLengths(this.#inputs, sequences, fieldOf);
    const user = r.user === undefined ? undefined : userOf(r.user, flat, where);
    return {
      rows, contextRows: flat ? rows : 1, tensors, request: req as RankRequest,
      ...(user !== undefined ? { user } : {}), ...(sequences ? { sequences } : {}), ...(truncated ? { truncated } : {}),
    } as unknown as ValidRequest;
  }
}

/** A request's `user`: a non-empty string of at most 256 characters or a non-negative safe integer, on ranking requests only. */
function userOf(user: unknown, flat: boolean, where: string): bigint {
  if (flat) throw new RequestError(`${where}user: only ranking requests ({ context, candidates }) name a user; flat rows are not cached`, "bad_user");
  const ok = typeof user === "string" ? user.length > 0 && user.length <= 256 : typeof user === "number" && Number.isSafeInteger(user) && user >= 0;
  if (!ok) throw new RequestError(`${where}user: expected a non-empty string (at most 256 characters) or a non-negative integer, got ${JSON.stringify(user)?.slice(0, 64)}`, "bad_user");
  return userKey(user as string | number);
}

function tensorAt(t: unknown, field: string): asserts t is Tensor {
  if (unalignedBytes(t)) return; // made by the body decoder, which checked its dtype, shape and byte length
  try {
    validateTensor(t, field);
  } catch (err) {
    throw new RequestError((err as Error).message, "bad_tensor");
  }
}

/**
 * A tensor's values as the checks read them: by index, as numbers (an i64 from its two 32-bit
 * halves, exact below 2^53: no BigInt per id), and `shown` exactly for messages. A tensor left
 * unaligned in the request body is read where it lies.
 */
interface Elements {
  count: number;
  at(i: number): number;
  shown(i: number): string;
}

function elementsOf(t: Tensor): Elements {
  const raw = unalignedBytes(t);
  if (raw) {
    const at = elementReader(raw, t.dtype);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const count = raw.byteLength / dtypes[t.dtype].bytes;
    return { count, at, shown: t.dtype === "i64" ? (i) => String(view.getBigInt64(8 * i, true)) : (i) => String(at(i)) };
  }
  if (t.data instanceof BigInt64Array) {
    const v = t.data;
    const s32 = new Int32Array(v.buffer, v.byteOffset, v.length * 2);
    return { count: v.length, at: (i) => s32[2 * i + 1]! * 4294967296 + (s32[2 * i]! >>> 0), shown: (i) => String(v[i]) };
  }
  const v = t.data as Float32Array | Int32Array | Uint8Array;
  return { count: v.length, at: (i) => v[i]!, shown: (i) => String(v[i]) };
}

/** The padding run a history starts with (its oldest, empty slots). */
function leadingPads(values: Elements, padding: number): number {
  let t = 0;
  while (t < values.count && values.at(t) === padding) t++;
  return t;
}

/** bool values are bytes 0 or 1 (what the kernels' logic ops assume). */
function checkBools(values: Elements, field: string, w: number): void {
  for (let i = 0; i < values.count; i++) {
    if (values.at(i) > 1) throw new RequestError(`${field}: row ${Math.floor(i / w)} has ${values.shown(i)} in a bool tensor (expected 0 or 1)`, "bad_value");
  }
}

function checkFinite(values: Elements, field: string, w: number): void {
  for (let i = 0; i < values.count; i++) {
    if (!Number.isFinite(values.at(i))) {
      throw new RequestError(`${field}: row ${Math.floor(i / w)} has a non-finite value (${values.shown(i)}); send finite numbers or declare the input with nonFinite: "zero"`, "non_finite");
    }
  }
}

/**
 * Every id fits the model's id dtype and, where the input indexes a table under the
 * "error" policy, lies in [0, rows) or is the input's padding id. (An i64 id beyond 2^53
 * reads inexactly, but far outside both ranges, so it fails as it should.)
 */
function checkIds(values: Elements, dtype: Tensor["dtype"], input: GraphInput, field: string, bound: { rows: number; table: string } | undefined, w = width(input)): void {
  if (!bound && !(dtype === "i64" && input.dtype === "i32")) return; // nothing an id could violate
  const pad = input.padding;
  for (let i = 0; i < values.count; i++) {
    const id = values.at(i);
    if (id === pad) continue;
    const why =
      input.dtype === "i32" && !(id >= -2147483648 && id <= 2147483647) ? "does not fit the model's i32 ids" : bound && !(id >= 0 && id < bound.rows) ? `is outside table "${bound.table}" (${bound.rows} rows)` : undefined;
    if (why) throw new RequestError(`${field}: id ${values.shown(i)} at row ${Math.floor(i / w)}, position ${i % w} ${why}`, "id_out_of_range");
  }
}
