// Real PyTorch exports, mutated the ways broken files break (seeded, so every
// run tries the same mutations): wrong element types on inputs and
// initializers, missing initializers, bad Transpose perms, weights that no
// longer broadcast, huge dims, truncated bytes, unknown ops, dangling node
// inputs, attributes of the wrong type. Each mutant either imports and ranks
// (finite outputs) or throws a RankfnError that names the node, the value or
// the file problem. Never another exception, never a crash of the process.
// FUZZ_PER_KIND=300 tries more mutants; FUZZ_TALLY=1 lists the ones that ranked.
import { expect, test } from "bun:test";
import { onnx } from "onnx-proto";
import { readFileSync } from "node:fs";
import { RankfnError } from "../../../runtime/errors";
import { importOnnx } from "../../../runtime/onnx/importer";
import { Rng } from "../../../runtime/tensor/random";
import { loadModel } from "../../../sdk";
import { sampleRequests } from "../../../sdk/sample-requests";
import { describePytorch } from "./exports";

type Mutation = (m: onnx.ModelProto, rng: Rng) => string | undefined;

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;
const ELEM_TYPES = [DT.FLOAT, DT.INT32, DT.INT64, DT.BOOL, DT.FLOAT16, DT.DOUBLE, DT.STRING, DT.UINT8, 0, 77];
const pick = <T>(xs: readonly T[], rng: Rng): T => xs[rng.int(xs.length)]!;
const nodesOf = (m: onnx.ModelProto) => m.graph!.node!;
const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** An initializer's raw bytes resized to `dims` (so only the shape is wrong, not the byte count). */
function reshaped(t: onnx.ITensorProto, dims: number[]): void {
  const width = t.dataType === DT.INT64 ? 8 : t.dataType === DT.BOOL ? 1 : 4;
  t.dims = dims;
  t.rawData = new Uint8Array(size(dims) * width).map((_, i) => (i * 37) & 0x3f);
  t.floatData = [];
  t.int64Data = [];
  t.int32Data = [];
}

/** Each mutation edits the model in place and says what it did (undefined: nothing to mutate). */
const mutations: Record<string, Mutation> = {
  inputDtype(m, rng) {
    const inp = pick(m.graph!.input!, rng);
    const to = pick(ELEM_TYPES, rng);
    inp.type!.tensorType!.elemType = to;
    return `input ${inp.name} -> element type ${to}`;
  },
  initializerDtype(m, rng) {
    const t = pick(m.graph!.initializer!, rng);
    const to = pick(ELEM_TYPES, rng);
    t.dataType = to;
    return `initializer ${t.name} -> data type ${to}`;
  },
  missingInitializer(m, rng) {
    const inits = m.graph!.initializer!;
    const [t] = inits.splice(rng.int(inits.length), 1);
    return `initializer ${t!.name} removed`;
  },
  transposePerm(m, rng) {
    const perms = [[0, 0, 1], [5, 1], [], [2, 1, 0], [-1, 0], [1, 0], [0, 2, 1, 3], [1e9, 0]];
    const perm = pick(perms, rng);
    const existing = nodesOf(m).filter((n) => n.opType === "Transpose");
    if (existing.length && rng.next() < 0.5) {
      const n = pick(existing, rng);
      n.attribute = [{ name: "perm", type: AT.INTS, ints: perm }];
      return `${n.name} perm -> [${perm}]`;
    }
    // Put a Transpose in front of some node's first input.
    const n = pick(nodesOf(m).filter((x) => x.input?.length && x.input[0]), rng);
    const t = { opType: "Transpose", name: "fuzz_transpose", input: [n.input![0]!], output: ["fuzz_transposed"], attribute: [{ name: "perm", type: AT.INTS, ints: perm }] };
    nodesOf(m).splice(nodesOf(m).indexOf(n), 0, onnx.NodeProto.create(t));
    n.input![0] = "fuzz_transposed";
    return `Transpose [${perm}] before ${n.name}`;
  },
  broadcastMismatch(m, rng) {
    const floats = m.graph!.initializer!.filter((t) => t.dataType === DT.FLOAT && (t.dims?.length ?? 0) > 0);
    if (!floats.length) return undefined;
    const t = pick(floats, rng);
    const dims = t.dims!.map(Number);
    const k = rng.int(dims.length);
    dims[k] = Math.max(2, dims[k]! + pick([-1, 1, 3], rng));
    if (rng.next() < 0.3) dims.unshift(2);
    reshaped(t, dims);
    return `initializer ${t.name} -> [${dims}]`;
  },
  hugeDims(m, rng) {
    const huge = pick([2 ** 31, 2 ** 40, 1e15, -3, 0], rng);
    if (rng.next() < 0.5) {
      const inp = pick(m.graph!.input!, rng);
      const dims = inp.type!.tensorType!.shape!.dim!;
      const d = dims[Math.min(dims.length - 1, 1 + rng.int(Math.max(1, dims.length - 1)))]!;
      d.dimValue = huge;
      d.dimParam = "";
      return `input ${inp.name} dim -> ${huge}`;
    }
    const t = pick(m.graph!.initializer!, rng);
    t.dims = [...(t.dims ?? []).map(Number), huge];
    return `initializer ${t.name} dims + ${huge}`;
  },
  truncated() {
    return "truncated"; // applied to the encoded bytes below
  },
  unknownOp(m, rng) {
    const n = pick(nodesOf(m), rng);
    if (rng.next() < 0.5) n.opType = pick(["FusedEverything", "Conv3DTranspose", "", "loop"], rng);
    else n.domain = "com.example.custom";
    return `${n.name} -> op "${n.opType}" domain "${n.domain}"`;
  },
  danglingInput(m, rng) {
    const n = pick(nodesOf(m).filter((x) => x.input?.length), rng);
    n.input![rng.int(n.input!.length)] = "fuzz_nobody_makes_this";
    return `${n.name} reads a value no node produces`;
  },
  wrongAttributeType(m, rng) {
    const withAttrs = nodesOf(m).filter((x) => x.attribute?.length && x.opType !== "Loop");
    if (!withAttrs.length) return undefined;
    const n = pick(withAttrs, rng);
    const a = pick(n.attribute!, rng);
    const variants: (() => void)[] = [
      () => Object.assign(a, { type: AT.FLOAT, f: 1.5, i: 0, ints: [], t: null }),
      () => Object.assign(a, { type: AT.STRING, s: new TextEncoder().encode("seven"), i: 0, ints: [], f: 0, t: null }),
      () => Object.assign(a, { type: AT.INTS, ints: [3, -2, 1e9], i: 0, t: null }),
      () => Object.assign(a, { type: AT.INT, i: -7, ints: [], t: null }),
      () => Object.assign(a, { type: AT.GRAPH, g: onnx.GraphProto.create({ name: "empty" }), t: null, i: 0, ints: [] }),
    ];
    pick(variants, rng)();
    return `${n.name}.${a.name} -> type ${a.type}`;
  },
};

/** What a refusal must name: a node, an initializer, an input/output, or the file itself. */
const NAMED = /node "[^"]*" \(|initializer "|input "|output "|not an ONNX model|opset \d+ is not supported|has no graph/;

describePytorch("mutated PyTorch exports", (manifest) => {
  test("the mutants that once got past validation now fail naming the node or input", () => {
    const base = manifest.models.find((m) => m.name === "youtube_dnn" && m.opset === 17)!;
    const refusal = (edit: (m: onnx.ModelProto) => void): string => {
      const model = onnx.ModelProto.decode(readFileSync(base.path));
      edit(model);
      try {
        importOnnx(onnx.ModelProto.encode(model).finish());
      } catch (err) {
        if (err instanceof RankfnError) return err.message;
        throw err;
      }
      throw new Error("imported");
    };
    const node = (m: onnx.ModelProto, op: string) => nodesOf(m).find((n) => n.opType === op)!;
    // Was a TypeError (the Constant's tensor read from a FLOAT attribute).
    expect(refusal((m) => Object.assign(node(m, "Constant").attribute![0]!, { type: AT.FLOAT, f: 1.5, t: null }))).toMatch(/^node "\/Constant[^"]*" \(Constant\): attribute "value" is of type FLOAT, expected TENSOR$/);
    // Was imported, then ran out of memory sizing a 2^31-wide row.
    expect(refusal((m) => Object.assign(m.graph!.input![1]!.type!.tensorType!.shape!.dim![1]!, { dimValue: 2 ** 31, dimParam: "" }))).toBe(
      'input "search_tokens": [batch, 2147483648] is 2147483648 values per row, more than rankfn takes (16777216)',
    );
    // Was converted as the ONNX Gemm.
    expect(refusal((m) => (node(m, "Gemm").domain = "com.example.custom"))).toMatch(/\(Gemm\): operator of domain "com.example.custom" is not supported/);
    // Was taken as the identity.
    expect(refusal((m) => {
      const gemm = node(m, "Gemm");
      nodesOf(m).splice(nodesOf(m).indexOf(gemm), 0, onnx.NodeProto.create({ opType: "Transpose", name: "t", input: [gemm.input![0]!], output: ["t_out"], attribute: [{ name: "perm", type: AT.INTS, ints: [] }] }));
      gemm.input![0] = "t_out";
    })).toMatch(/^node "t" \(Transpose\): perm \[\] is not a permutation of the 2 axes of \[N, 60\]$/);
  });

  // Every other trial mutates youtube_dnn, the export that imports today, so mutants get as far as
  // ranking; the rest fail today where the importer stops, but reach further as it learns ops.
  const bases = ["youtube_dnn", "dlrm", "youtube_dnn", "dcn_v2", "youtube_dnn", "mmoe", "youtube_dnn", "din", "youtube_dnn", "sasrec", "youtube_dnn", "wide_deep", "youtube_dnn", "two_tower"];
  const kinds = Object.keys(mutations);
  const PER_KIND = Number(process.env.FUZZ_PER_KIND ?? 28);

  test(`${kinds.length} kinds of mutation × ${PER_KIND} on ${new Set(bases).size} real exports: import and rank, or a RankfnError naming what is wrong`, async () => {
    const rng = new Rng(20261201);
    const problems: string[] = [];
    const tally: Record<string, { ranked: number; refused: number }> = {};
    for (const kind of kinds) {
      tally[kind] = { ranked: 0, refused: 0 };
      for (let trial = 0; trial < PER_KIND; trial++) {
        const base = manifest.models.find((m) => m.name === bases[trial % bases.length] && m.opset === (trial % 4 < 2 ? 17 : 14))!;
        const original = readFileSync(base.path);
        const model = onnx.ModelProto.decode(original);
        const what = mutations[kind]!(model, rng);
        if (!what) continue;
        let bytes: Uint8Array;
        try {
          bytes = kind === "truncated" ? original.subarray(0, 1 + rng.int(original.byteLength - 1)) : onnx.ModelProto.encode(model).finish();
        } catch {
          continue; // protobuf itself cannot write this mutant
        }
        const label = `${kind} #${trial} on ${base.name} opset ${base.opset} (${what})`;
        try {
          const built = importOnnx(bytes, { name: base.name });
          using ranked = loadModel(built, { maxBatch: 16 });
          const [request] = sampleRequests(built, { count: 1, candidates: 1 + rng.int(8), seed: trial });
          const { outputs } = await ranked.rank(request!);
          for (const [name, t] of Object.entries(outputs)) {
            const bad = Array.from(t.data as Float32Array).find((v) => !Number.isFinite(v));
            if (bad !== undefined) problems.push(`${label}: output ${name} has ${bad}`);
          }
          tally[kind]!.ranked++;
          if (process.env.FUZZ_TALLY) console.log("ranked:", label);
        } catch (err) {
          if (!(err instanceof RankfnError)) problems.push(`${label}: ${(err as Error).name}: ${(err as Error).message}`);
          else if (!NAMED.test(err.message)) problems.push(`${label}: the RankfnError names nothing: ${err.message}`);
          else tally[kind]!.refused++;
        }
      }
    }
    if (process.env.FUZZ_TALLY) console.log(JSON.stringify(tally));
    expect(problems).toEqual([]);
    // Every kind ran (protobuf could write most mutants), and each kind was refused at least once.
    for (const kind of kinds) {
      expect(tally[kind]!.ranked + tally[kind]!.refused).toBeGreaterThan(PER_KIND / 2);
      expect(tally[kind]!.refused).toBeGreaterThan(0);
    }
  });
});
