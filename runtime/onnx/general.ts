// The general path of the importer: every ONNX value an op reads becomes an
// operand of a general tensor op with its ONNX shape — a per-row tensor (a
// reshape view is emitted where rankfn stores it flattened), a constant (a
// weight of its full shape, broadcast over rows). The fused ops (embedding
// bags, interactions, mixtures, GELU, attention) are compiler passes over the
// graph this builds, never the only way in.
import { GraphError } from "../graph/schema";
import type { Tensor } from "../tensor/tensor";
import type { Importer, OnnxNode } from "./importer";
import { batchFirst, isBatchFirst, layoutOf, onnxRank, storedConstDims } from "./batch-layout";
import type { RowDType, TensorVal } from "./values";

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The value `name` as a per-row tensor (anything else — constants, shape arithmetic, flattened ids — is refused). */
export function materialize(imp: Importer, name: string, node: OnnxNode): TensorVal {
  const v = imp.get(name, node);
  switch (v.kind) {
    case "tensor":
      return v;
    case "flatIds":
      return imp.fail(node, `input "${name}" is ids flattened across the batch ([N·L]); only PyTorch's EmbeddingBag Loop may read it`);
    case "const":
      return imp.fail(node, `input "${name}" is a constant where an activation is expected`);
    case "sym":
      return imp.fail(node, `input "${name}" is shape arithmetic that depends on the batch size; it cannot be computed on as a tensor`);
  }
}

function setTensor(imp: Importer, name: string, t: TensorVal): TensorVal {
  imp.set(name, t);
  return t;
}

/** The rankfn value of a tensor with the IR shape equal to its ONNX dims (a free reshape view when they differ). */
export function shaped(imp: Importer, t: TensorVal, node: OnnxNode): string {
  const type = imp.types.get(t.value);
  if (!type || same(type.shape, t.dims)) return t.value;
  const key = `${t.value}|${t.dims.join(",")}`;
  let view = imp.views.get(key);
  if (!view) {
    view = imp.emitOutputs("reshape", [t.value], [{ name: `${t.value}:view${imp.counter++}`, dims: t.dims, dtype: t.dtype }], { shape: t.dims }, node)[0]!;
    imp.views.set(key, view);
  }
  return view;
}

/**
 * An operand of a general op: a per-row tensor with its stored dims, or a constant as a
 * weight of its full shape — mapped to the stored order of `like` when that value's batch
 * is not first (the constant must have size 1 along the batch axis).
 */
export function operand(imp: Importer, name: string, node: OnnxNode, like?: TensorVal): string {
  const c = imp.constant(name);
  if (c) {
    const l = like ? layoutOf(like) : batchFirst;
    if (isBatchFirst(l)) return imp.weight(name, { ...c.t, shape: c.dims.length ? c.dims : [1] } as Tensor);
    const dims = storedConstDims(c.dims, l, onnxRank(like!));
    if (!dims) imp.fail(node, `constant "${name}" [${c.dims.join(", ")}] varies along the batch axis`);
    return imp.derived(name, { ...c.t, shape: dims.length ? dims : [1] } as Tensor);
  }
  return shaped(imp, materialize(imp, name, node), node);
}

/** The one batch layout of a node's tensor inputs (batch-first when they all are); differing layouts are refused. */
export function commonLayout(imp: Importer, names: string[], node: OnnxNode): TensorVal | undefined {
  let like: TensorVal | undefined;
  for (const n of names) {
    if (imp.constant(n)) continue;
    const t = materialize(imp, n, node);
    if (isBatchFirst(layoutOf(t))) continue;
    if (like && JSON.stringify(layoutOf(like)) !== JSON.stringify(layoutOf(t))) imp.fail(node, "inputs hold the batch at different places of their shapes");
    like = t;
  }
  return like;
}

/** Give an emitted value the batch layout of `like` (the op kept the batch where it was). */
export function keepLayout(imp: Importer, t: TensorVal, onnxName: string, like: TensorVal | undefined): TensorVal {
  if (!like || isBatchFirst(layoutOf(like))) return t;
  const out = { ...t, layout: layoutOf(like) };
  imp.set(onnxName, out);
  return out;
}

/** The ONNX-side dtype of an operand (constants included). */
export function operandDType(imp: Importer, name: string, node: OnnxNode): RowDType {
  const c = imp.constant(name);
  if (c) return c.t.dtype as RowDType;
  return materialize(imp, name, node).dtype;
}

/**
 * Emit general op `op` over rankfn operands; its outputs take the ONNX names
 * `outs` (fresh ones when a name is "" or a suffix) with the inferred dims and dtypes.
 */
export function general(imp: Importer, op: string, inputs: string[], attrs: Record<string, unknown>, node: OnnxNode, ...outs: string[]): TensorVal[] {
  const probe = { name: node.name || op, op, inputs, outputs: outs.map((_, i) => `probe${i}`), attrs };
  let types: ReturnType<Importer["inferTypes"]>;
  try {
    types = imp.inferTypes(probe);
  } catch (err) {
    // The IR names its own op; the user's error names the ONNX node and op.
    if (!(err instanceof GraphError)) throw err;
    imp.fail(node, err.message.replace(/^node "[^"]*" \([^)]*\): /, ""));
  }
  const names = imp.emitOutputs(op, inputs, types.map((t, i) => ({ name: outs[i] ?? "", dims: t.shape, dtype: t.dtype as RowDType })), attrs, node);
  return names.map((value, i) => ({ kind: "tensor", value, dims: types[i]!.shape, dtype: types[i]!.dtype as RowDType }));
}

/** Emit op `op` for ONNX node `node` writing its first output. */
export function generalOut(imp: Importer, node: OnnxNode, op: string, inputs: string[], attrs: Record<string, unknown> = {}): TensorVal {
  return general(imp, op, inputs, attrs, node, node.output![0]!)[0]!;
}
