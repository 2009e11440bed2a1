// Valid, deterministic requests for every zoo architecture: one row of each
// context input (broadcast to every candidate) and `rows` rows of each
// candidate input. Sparse bags are partly padded (-1), some entirely (empty
// bags), and DIN's behaviour sequences have random lengths. The input list is
// derived from the architecture options, independently of the built graph, so
// tests can check the two agree.
import type { Rng } from "../../runtime/tensor/random";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";
import type { Graph } from "../../runtime/graph/schema";
import type { ZooName, ZooOptions } from "../../sdk/zoo";
import { dcnv2Options } from "../../sdk/zoo/dcnv2";
import { deepfmOptions } from "../../sdk/zoo/deepfm";
import { dinOptions } from "../../sdk/zoo/din";
import { dlrmOptions } from "../../sdk/zoo/dlrm";
import { mmoeOptions } from "../../sdk/zoo/mmoe";
import { moeOptions } from "../../sdk/zoo/moe";
import { pleOptions } from "../../sdk/zoo/ple";
import { bstOptions } from "../../sdk/zoo/bst";
import { hstuOptions } from "../../sdk/zoo/hstu";
import { rankmixerOptions } from "../../sdk/zoo/rankmixer";
import { widedeepOptions } from "../../sdk/zoo/widedeep";

export interface ZooRequest {
  /** Candidate rows scored. */
  rows: number;
  /** Context inputs: one row each (ids as numbers; -1 is padding). */
  context: Record<string, number[]>;
  /** Candidate inputs: `rows` rows each. */
  candidates: Record<string, number[][]>;
}

export interface InputSpec {
  name: string;
  dtype: "f32" | "i64";
  width: number;
  role: "context" | "candidate";
  /** i64 inputs: ids are in [0, rows) (the table the ids index). */
  rows?: number;
  /** i64 inputs: "bag" = slots independently filled or padded; "sequence" = a history, filled then padded; "history" = padded then filled (oldest side padded). */
  kind?: "bag" | "sequence" | "history";
}

function denseSpec(n: number): InputSpec {
  return { name: "dense", dtype: "f32", width: n, role: "candidate" };
}

function bags(prefix: string, multiHot: readonly number[], rows: readonly number[], contextFeatures: number): InputSpec[] {
  return multiHot.map((l, i) => ({ name: `${prefix}_${i}`, dtype: "i64", width: l, role: i < contextFeatures ? "context" : "candidate", rows: rows[i]!, kind: "bag" }));
}

/** The inputs an architecture's graph declares, with the id range of each sparse input. */
export function inputSpecs<N extends ZooName>(name: N, options: Partial<ZooOptions[N]> = {}): InputSpec[] {
  switch (name) {
    case "dlrm": {
      const o = dlrmOptions(options as Partial<ZooOptions["dlrm"]>);
      return [denseSpec(o.denseFeatures), ...bags("cat", o.multiHot, o.tableRows, o.contextFeatures)];
    }
    case "dcnv2": {
      const o = dcnv2Options(options as Partial<ZooOptions["dcnv2"]>);
      return [denseSpec(o.denseFeatures), ...bags("cat", o.multiHot, o.rows, o.contextFeatures)];
    }
    case "deepfm": {
      const o = deepfmOptions(options as Partial<ZooOptions["deepfm"]>);
      return [denseSpec(o.denseFeatures), ...bags("field", o.multiHot, o.rows, o.contextFeatures)];
    }
    case "widedeep": {
      const o = widedeepOptions(options as Partial<ZooOptions["widedeep"]>);
      const crosses: InputSpec[] = o.crossTableRows.map((r, j) => ({ name: `cross_${j}`, dtype: "i64", width: 1, role: "candidate", rows: r, kind: "bag" }));
      return [denseSpec(o.denseFeatures), ...bags("cat", o.multiHot, o.rows, o.contextFeatures), ...crosses];
    }
    case "din": {
      const o = dinOptions(options as Partial<ZooOptions["din"]>);
      const user: InputSpec[] = o.userTableRows.map((r, j) => ({ name: `user_${j}`, dtype: "i64", width: 1, role: "context", rows: r, kind: "bag" }));
      const hist: InputSpec = { name: "hist", dtype: "i64", width: o.sequenceLength, role: "context", rows: o.itemTableRows, kind: "sequence" };
      return [...user, hist, { name: "item_id", dtype: "i64", width: 1, role: "candidate", rows: o.itemTableRows, kind: "bag" }];
    }
    case "mmoe":
    case "ple":
    case "moe": {
      const o = name === "mmoe" ? mmoeOptions(options) : name === "ple" ? pleOptions(options) : moeOptions(options);
      return [denseSpec(o.denseFeatures), ...bags("cat", o.multiHot, o.rows, o.contextFeatures)];
    }
    case "hstu": {
      const o = hstuOptions(options as Partial<ZooOptions["hstu"]>);
      const L = o.historyLength;
      return [
        { name: "hist_items", dtype: "i64", width: L, role: "context", rows: o.itemTableRows, kind: "history" },
        { name: "hist_actions", dtype: "i64", width: L, role: "context", rows: o.actions, kind: "bag" },
        ...(o.rab === "time"
          ? ([
              { name: "hist_ts", dtype: "i64", width: L, role: "context", rows: 1_000_000, kind: "bag" },
              { name: "request_ts", dtype: "i64", width: 1, role: "context", rows: 1_000_000, kind: "bag" },
            ] as InputSpec[])
          : []),
        { name: "item_id", dtype: "i64", width: 1, role: "candidate", rows: o.itemTableRows, kind: "bag" },
      ];
    }
    case "rankmixer": {
      const o = rankmixerOptions(options as Partial<ZooOptions["rankmixer"]>);
      return [denseSpec(o.denseFeatures), ...bags("cat", o.multiHot, o.rows, o.contextFeatures)];
    }
    case "bst": {
      const o = bstOptions(options as Partial<ZooOptions["bst"]>);
      return [
        { name: "hist", dtype: "i64", width: o.historyLength, role: "context", rows: o.itemTableRows, kind: "history" },
        { name: "item_id", dtype: "i64", width: 1, role: "candidate", rows: o.itemTableRows, kind: "bag" },
      ];
    }
    default:
      throw new Error(`no input specs for "${name}"`);
  }
}

function denseRow(width: number, rng: Rng): number[] {
  // log1p of counts normalised to [0, 1], like preprocessed Criteo dense features; 1 in 8
  // is a small negative value (a delta feature). Rounded to f32 so the reference sees
  // exactly what an f32 input tensor holds.
  return Array.from({ length: width }, () => Math.fround(rng.int(8) === 0 ? -0.5 * rng.next() : Math.log1p(rng.int(1000)) / Math.log1p(999)));
}

function bagRow(spec: InputSpec, rng: Rng): number[] {
  // Width-1 features are present 85% of the time; wider bags pad each slot with
  // probability 1/4, so padding appears between ids too, and bags may be empty.
  const p = spec.width === 1 ? 0.15 : 0.25;
  return Array.from({ length: spec.width }, () => (rng.next() < p ? -1 : rng.int(spec.rows!)));
}

/** A valid request for `name` (built with `options`): `rows` candidates and one context row. */
export function makeRequest<N extends ZooName>(name: N, rows: number, rng: Rng, options: Partial<ZooOptions[N]> = {}): ZooRequest {
  const specs = inputSpecs(name, options);
  const req: ZooRequest = { rows, context: {}, candidates: {} };

  for (const spec of specs) {
    const gen = (): number[] => {
      if (spec.dtype === "f32") return denseRow(spec.width, rng);
      if (spec.kind === "sequence") {
        // A behaviour history of random length: slot t holds an id for t < length, then padding.
        const length = rng.int(spec.width + 1);
        return Array.from({ length: spec.width }, (_, t) => (t < length ? rng.int(spec.rows!) : -1));
      }
      if (spec.kind === "history") {
        // Oldest event first, padded on the oldest side: slot t holds an id for t >= width - length.
        const length = rng.int(spec.width + 1);
        return Array.from({ length: spec.width }, (_, t) => (t >= spec.width - length ? rng.int(spec.rows!) : -1));
      }
      return bagRow(spec, rng);
    };
    if (spec.role === "context") req.context[spec.name] = gen();
    else req.candidates[spec.name] = Array.from({ length: rows }, gen);
  }
  return req;
}

/** The value of input `name` for candidate row `i` (context inputs are broadcast). */
export function inputRow(req: ZooRequest, name: string, i: number): number[] {
  const c = req.context[name];
  if (c) return c;
  const rows = req.candidates[name];
  if (!rows) throw new Error(`request has no input "${name}"`);
  const r = rows[i];
  if (!r) throw new Error(`input "${name}" has no row ${i}`);
  return r;
}

/** The request as tensors for the graph's inputs: context inputs [1, w], candidate inputs [rows, w]. */
export function requestTensors(graph: Graph, req: ZooRequest): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const input of graph.inputs) {
    const w = input.shape.reduce((a, b) => a * b, 1);
    const rows = input.role === "context" ? [req.context[input.name]] : req.candidates[input.name];
    if (!rows || rows.some((r) => !r || r.length !== w)) throw new Error(`request lacks ${input.role} input "${input.name}" of width ${w}`);
    const flat = (rows as number[][]).flat();
    out[input.name] =
      input.dtype === "f32"
        ? tensor("f32", [rows.length, w], Float32Array.from(flat))
        : input.dtype === "i64"
          ? tensor("i64", [rows.length, w], BigInt64Array.from(flat, (v) => BigInt(v)))
          : tensor("i32", [rows.length, w], Int32Array.from(flat));
  }
  return out;
}
