// Dynamic dimensions after the batch (a behaviour history whose length differs
// between requests): the model is planned per size bucket, as batch sizes are.
// Each request's dynamic inputs are padded up to the smallest bucket that holds
// them (powers of two up to the declared largest size) with the model's padding
// value, on the side the model reads as "oldest" — exactly what the exported
// model does with a short history (its mask drops the padding). Requests in one
// call are grouped by bucket; each bucket is a model of its own, imported and
// compiled on first use, so a batch only ever holds requests of one size.
import type { GraphInput } from "../graph/schema";
import { RankfnError, RequestError } from "../errors";
import { type TypedArray, dtypes } from "../tensor/dtype";
import type { Tensor } from "../tensor/tensor";
import type { RankResponse } from "./request";
import type { ValidRequest } from "./validate";

/** An input's dynamic dimension: `axis` counts from 1 (the first after the batch), named `param`. */
export interface DynamicDim {
  input: string;
  axis: number;
  param: string;
}

export interface ShapeBucketOptions {
  /** Every dynamic dimension's largest size, by name (a request beyond it is refused). */
  max: Record<string, number>;
  /** Value of padded positions (ids: the model's padding id; floats pad with 0). Default 0. */
  pad?: number;
  /** Where the padding goes: "left" (default: the history's most recent event last) or "right". */
  side?: "left" | "right";
  /** Smallest bucket (default 8). */
  minSize?: number;
}

/** The model of one bucket: what the router needs of it (a Model). */
export interface BucketModel {
  readonly graphInputs: GraphInput[];
  validate(request: unknown, where?: string): ValidRequest;
  run(requests: readonly ValidRequest[], queueMs?: number[], options?: { timeoutMs?: number }): Promise<(RankResponse | RankfnError)[]>;
  runSync(requests: readonly ValidRequest[], queueMs?: number[]): (RankResponse | RankfnError)[];
  ready(): Promise<void>;
  dispose(): void;
}

/** Bucket sizes of one dimension: powers of two from `min`, the last one `max`. */
export function bucketSizes(max: number, min = 8): number[] {
  const sizes: number[] = [];
  for (let s = Math.min(min, max); s < max; s *= 2) sizes.push(s);
  sizes.push(max);
  return sizes;
}

export class ShapeRouter<M extends BucketModel> {
  readonly #dims: DynamicDim[];
  readonly #options: Required<ShapeBucketOptions>;
  /** Per dynamic input: its values per step of the dynamic axis, at every size (the fixed dims after it). */
  readonly #inner = new Map<string, number>();
  readonly #models = new Map<string, M>();
  readonly #bucketOf = new WeakMap<ValidRequest, M>();

  constructor(
    dims: DynamicDim[],
    options: ShapeBucketOptions,
    /** The inputs as imported at the largest sizes. */
    readonly inputs: GraphInput[],
    readonly make: (sizes: Record<string, number>) => M,
  ) {
    this.#dims = dims;
    this.#options = { max: options.max, pad: options.pad ?? 0, side: options.side ?? "left", minSize: options.minSize ?? 8 };
    for (const d of dims) {
      const max = options.max[d.param];
      if (!(Number.isSafeInteger(max) && max! > 0)) throw new RankfnError(`dims["${d.param}"]: the largest size of input "${d.input}"'s dimension ${d.axis} must be a positive integer, got ${max}`, "bad_option", 400);
      if (dims.filter((o) => o.input === d.input).length > 1) throw new RankfnError(`input "${d.input}": more than one dynamic dimension after the batch is not supported`, "unsupported_dims", 400);
      if (d.axis !== 1) throw new RankfnError(`input "${d.input}": only the dimension right after the batch may be dynamic, "${d.param}" is dimension ${d.axis}`, "unsupported_dims", 400);
      const input = inputs.find((i) => i.name === d.input)!;
      this.#inner.set(d.input, input.shape.reduce((a, b) => a * b, 1) / max!);
    }
  }

  /** The model of the bucket holding `sizes` (made on first use). */
  model(sizes: Record<string, number>): M {
    const key = Object.entries(sizes).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(",");
    let m = this.#models.get(key);
    if (!m) this.#models.set(key, (m = this.make(sizes)));
    return m;
  }

  /** Every bucket's sizes (for warming). */
  allSizes(): Record<string, number>[] {
    let out: Record<string, number>[] = [{}];
    for (const param of new Set(this.#dims.map((d) => d.param))) {
      out = out.flatMap((s) => bucketSizes(this.#options.max[param]!, this.#options.minSize).map((size) => ({ ...s, [param]: size })));
    }
    return out;
  }

  /** The dynamic dimensions. */
  get dims(): DynamicDim[] {
    return this.#dims;
  }

  /** The bucket models made so far. */
  get models(): M[] {
    return [...this.#models.values()];
  }

  /** Pad the request's dynamic inputs to their bucket and validate it against that bucket's model. */
  validate(request: unknown, where = ""): ValidRequest {
    if (typeof request !== "object" || request === null) throw new RequestError(`${where}request must be an object with "rows" or "candidates"`);
    const r = request as Record<string, Record<string, unknown> | undefined>;
    const groups = (["rows", "context", "candidates"] as const).filter((g) => typeof r[g] === "object" && r[g] !== null);
    const found = new Map<string, { group: string; t: Tensor; length: number }>();
    const needed: Record<string, number> = {};
    for (const d of this.#dims) {
      const group = groups.find((g) => r[g]![d.input] !== undefined);
      if (!group) continue; // missing: the bucket model names it
      const t = r[group]![d.input] as Tensor;
      const field = `${where}${group}.${d.input}`;
      const inner = this.#inner.get(d.input)!;
      if (!t || !Array.isArray(t.shape) || !ArrayBuffer.isView(t.data) || t.strides !== undefined) continue; // the bucket model names what is wrong
      const ok = inner === 1 ? t.shape.length === 2 : t.shape.length === 3 && t.shape[2] === inner;
      if (!ok) throw new RequestError(`${field}: expected shape ${dynamicShape(d, inner)} (${d.param} up to ${this.#options.max[d.param]}), got [${t.shape.join(", ")}]`, "bad_shape");
      const length = t.shape[1]!;
      if (t.data.length !== t.shape[0]! * length * inner) continue; // the bucket model names the length mismatch
      const max = this.#options.max[d.param]!;
      if (length > max) throw new RequestError(`${field}: ${d.param} = ${length} exceeds the model's largest ${d.param} (${max})`, "sequence_too_long");
      if (length < 1) throw new RequestError(`${field}: ${d.param} must be at least 1 (pad an empty history with the padding id)`, "bad_shape");
      found.set(d.input, { group, t, length });
      needed[d.param] = Math.max(needed[d.param] ?? 0, length);
    }
    const sizes: Record<string, number> = {};
    for (const d of this.#dims) {
      const want = needed[d.param] ?? this.#options.max[d.param]!;
      sizes[d.param] = bucketSizes(this.#options.max[d.param]!, this.#options.minSize).find((s) => s >= want)!;
    }
    const model = this.model(sizes);
    const padded: Record<string, Record<string, unknown>> = {};
    for (const g of groups) padded[g] = { ...r[g] };
    for (const d of this.#dims) {
      const f = found.get(d.input);
      if (f) padded[f.group]![d.input] = this.#pad(f.t, f.length, sizes[d.param]!, this.#inner.get(d.input)!);
    }
    const valid = model.validate({ ...(request as object), ...padded }, where);
    this.#bucketOf.set(valid, model);
    return valid;
  }

  /** `t` as [rows, size × inner]: each row's `length` steps placed in `size` steps, padded on the configured side. */
  #pad(t: Tensor, length: number, size: number, inner: number): Tensor {
    const rows = t.shape[0]!;
    const shape = [rows, size * inner];
    if (length === size) return { dtype: t.dtype, shape, data: t.data } as Tensor;
    const src = t.data as TypedArray;
    const Ctor = dtypes[t.dtype].array as unknown as new (n: number) => TypedArray;
    const out = new Ctor(rows * size * inner);
    const pad = this.#options.pad;
    if (pad !== 0 && (t.dtype === "i32" || t.dtype === "i64")) (out as Int32Array).fill((t.dtype === "i64" ? BigInt(pad) : pad) as never);
    const at = this.#options.side === "left" ? (size - length) * inner : 0;
    for (let row = 0; row < rows; row++) out.set(src.subarray(row * length * inner, (row + 1) * length * inner) as never, row * size * inner + at);
    return { dtype: t.dtype, shape, data: out } as Tensor;
  }

  /** The bucket model a validated request belongs to. */
  modelOf(valid: ValidRequest): M {
    const m = this.#bucketOf.get(valid);
    if (!m) throw new RankfnError("request was not validated by this model", "not_validated", 500);
    return m;
  }

  /** Run validated requests, each on its bucket's model; results in order. */
  async run(requests: readonly ValidRequest[], queueMs: number[] = [], options: { timeoutMs?: number } = {}): Promise<(RankResponse | RankfnError)[]> {
    const out: (RankResponse | RankfnError)[] = new Array(requests.length);
    for (const [model, indices] of this.#groups(requests)) {
      const res = await model.run(indices.map((i) => requests[i]!), indices.map((i) => queueMs[i] ?? 0), options);
      indices.forEach((i, j) => (out[i] = res[j]!));
    }
    return out;
  }

  runSync(requests: readonly ValidRequest[], queueMs: number[] = []): (RankResponse | RankfnError)[] {
    const out: (RankResponse | RankfnError)[] = new Array(requests.length);
    for (const [model, indices] of this.#groups(requests)) {
      const res = model.runSync(indices.map((i) => requests[i]!), indices.map((i) => queueMs[i] ?? 0));
      indices.forEach((i, j) => (out[i] = res[j]!));
    }
    return out;
  }

  #groups(requests: readonly ValidRequest[]): Map<M, number[]> {
    const groups = new Map<M, number[]>();
    requests.forEach((req, i) => {
      const m = this.modelOf(req);
      const list = groups.get(m);
      if (list) list.push(i);
      else groups.set(m, [i]);
    });
    return groups;
  }

  dispose(): void {
    for (const m of this.#models.values()) m.dispose();
    this.#models.clear();
  }
}

/** Per-row shape of a dynamic input as requests send it, for messages and inspection. */
export const dynamicShape = (d: DynamicDim, inner: number): string => (inner === 1 ? `[rows, ${d.param}]` : `[rows, ${d.param}, ${inner}]`);
