// Step of the fused `attention` op (runtime/graph/sequence-ops.ts): one
// rf_seq_attention call over the batch. A dense batch is a jagged one with
// equal lengths: row b's tokens are Q rows [b·Lq, (b+1)·Lq) and K/V rows
// [b·Lk, (b+1)·Lk) of the values read as [rows·L, columns] matrices, so the
// offsets are fixed when the plan is built and a run allocates nothing. With a
// key padding mask, each row's visible K/V rows are gathered into plan scratch
// (one rf_gather_rows each) and the kv offsets count them, so the kernel sees
// exactly the keys the mask leaves (any subset, not only a prefix or suffix).
// Candidate queries may attend to context K/V (a target over its request's
// history): each request's run of rows is one item over that request's tokens.
// With `events` (a declared history's ids as input 3), row b's keys — and its
// queries, when they are the same tokens — are only its events, the slots
// after the leading padding (history-events.ts): one call per row over that
// window, read in place; padded query slots get zeros. When the history's tokens are
// stored jagged (jagged-tokens.ts: values + offsets), self-attention is one call with
// the history's offsets and the target reads request r's K/V at offsets[r].
import { GraphError, type Node } from "../../graph/schema";
import { enumCode } from "../../ffi/activations";
import { seqMasks } from "../../ffi/sequence-ops";
import { type PlanContext, type RunState, type Step, type StepBuilder, rowsOf } from "../plan-context";
import type { TokenOffsets } from "../jagged-tokens";
import { eventsOf } from "./history-events";
import { contiguous, step } from "./tensor-operands";

/** Offsets [capacity + 1] of rows of `length` tokens each. */
export function evenOffsets(capacity: number, length: number): BigInt64Array {
  return BigInt64Array.from({ length: capacity + 1 }, (_, b) => BigInt(b * length));
}

/** Input `name` as a [rows · L, columns] matrix starting at column `start`. */
export function tokens(ctx: PlanContext, node: Node, name: string, start: number) {
  const slot = ctx.tensorSlot(name);
  contiguous(node, name, slot);
  const [length, columns] = ctx.values.get(name)!.shape as [number, number];
  return { slot, view: (slot.data as Float32Array).subarray(start), length, columns };
}

export type Tokens = ReturnType<typeof tokens>;

/** An attention node's q, k, v (at their head windows' first columns) and output as token matrices. */
export function attentionOperands(ctx: PlanContext, node: Node, a: Record<string, any>) {
  return {
    q: tokens(ctx, node, node.inputs[0]!, a.qStart),
    k: tokens(ctx, node, node.inputs[1]!, a.kStart),
    v: tokens(ctx, node, node.inputs[2]!, a.vStart),
    out: tokens(ctx, node, node.outputs[0]!, 0),
  };
}

/** f(r, i0, i1) for each run [i0, i1) of consecutive candidate rows of one request r, in order. */
export function forEachRequestRun(n: number, requestOfRow: Int32Array, f: (r: number, i0: number, i1: number) => void): void {
  for (let i0 = 0; i0 < n; ) {
    const r = requestOfRow[i0]!;
    let i1 = i0 + 1;
    while (i1 < n && requestOfRow[i1] === r) i1++;
    f(r, i0, i1);
    i0 = i1;
  }
}

/** Each row's queries attend to that row's keys: k and v must count the same rows as q. */
export function requireOneRole(node: Node, q: Tokens, k: Tokens, v: Tokens): void {
  for (const [name, t] of [[node.inputs[1]!, k], [node.inputs[2]!, v]] as const) {
    if (t.slot.role !== q.slot.role) throw new GraphError(`node "${node.name}" (${node.op}): "${name}" is a ${t.slot.role} value, q is a ${q.slot.role} value; broadcast it first`);
  }
}

/**
 * Candidate queries over their request's context K/V (a target attending to an encoded history):
 * one rf_seq_attention item per run of consecutive rows of one request, its queries those rows'
 * tokens, its kv the request's L tokens read in place (never copied per candidate).
 */
function targetOverHistory(node: Node, ctx: PlanContext, a: Record<string, any>, q: Tokens, k: Tokens, v: Tokens, out: Tokens): Step {
  if (node.inputs[3] && !a.events) throw new GraphError(`node "${node.name}" (attention): a key padding mask needs q, k and v of one role`);
  if (a.mask !== "none") throw new GraphError(`node "${node.name}" (attention): candidate queries over context keys take mask "none", not "${a.mask}"`);
  const dv: number = a.valueDim ?? a.headDim;
  const qOffsets = new BigInt64Array(2);
  const kvOffsets = BigInt64Array.from([0n, BigInt(k.length)]);
  const keysOf = eventWindow(node, ctx, a, k.length);
  // K/V stored jagged (jagged-tokens.ts): request r's keys are rows offsets[r] .. offsets[r + 1].
  const jagged = ctx.jagged(node.inputs[1]!);
  const { sym } = ctx;
  return step(node, (s) => {
    forEachRequestRun(rowsOf(out.slot, s), s.requestOfRow, (r, i0, i1) => {
      qOffsets[1] = BigInt((i1 - i0) * q.length);
      let row: number;
      if (jagged) {
        row = jagged.start(r);
        kvOffsets[1] = BigInt(jagged.count(r));
      } else {
        const first = keysOf ? k.length - keysOf(s, r) : 0;
        row = r * k.length + first;
        kvOffsets[1] = BigInt(k.length - first);
      }
      ctx.check(
        sym.rf_seq_attention(null, 1, a.heads, a.headDim, dv, q.view.subarray(i0 * q.length * q.columns), q.columns, qOffsets, k.view.subarray(row * k.columns), k.columns,
          v.view.subarray(row * v.columns), v.columns, kvOffsets, 0, null, a.scale, null, 0, null, null, out.view.subarray(i0 * out.length * out.columns), out.columns),
        node,
      );
    });
  });
}

/** Self-attention over jagged tokens (jagged-tokens.ts): one call, every row an item at its history's offsets. */
function overJaggedTokens(node: Node, ctx: PlanContext, a: Record<string, any>, q: Tokens, k: Tokens, v: Tokens, out: Tokens, jagged: TokenOffsets): Step {
  const dv: number = a.valueDim ?? a.headDim;
  const mask = enumCode(seqMasks, a.mask, `node "${node.name}" mask`);
  const { sym } = ctx;
  const offsets = jagged.offsets;
  return step(node, (s) => {
    const rows = rowsOf(out.slot, s);
    if (jagged.total === 0) return;
    ctx.check(
      sym.rf_seq_attention(null, rows, a.heads, a.headDim, dv, q.view, q.columns, offsets, k.view, k.columns, v.view, v.columns, offsets, mask, null, a.scale, null, 0, null, null, out.view, out.columns),
      node,
    );
  });
}

/** With `events`: row b's event count (its history's ids are input 3), else undefined. */
function eventWindow(node: Node, ctx: PlanContext, a: Record<string, any>, L: number): ((s: RunState, b: number) => number) | undefined {
  if (!a.events) return undefined;
  const name = node.inputs[3]!;
  const ids = ctx.idSlot(name);
  const padding: number = a.events.padding;
  return (s, b) => eventsOf(s, name, ids, b, L, padding);
}

/** Self-attention over each row's events only: one call per row on its window of the tokens. */
function overEvents(node: Node, ctx: PlanContext, a: Record<string, any>, q: Tokens, k: Tokens, v: Tokens, out: Tokens): Step {
  if (q.length !== k.length) throw new GraphError(`node "${node.name}" (attention): events windows need queries and keys of one history (${q.length} queries, ${k.length} keys)`);
  const dv: number = a.valueDim ?? a.headDim;
  const L = k.length;
  const events = eventWindow(node, ctx, a, L)!;
  const offsets = new BigInt64Array(2);
  const mask = enumCode(seqMasks, a.mask, `node "${node.name}" mask`);
  const { sym } = ctx;
  return step(node, (s) => {
    const rows = rowsOf(out.slot, s);
    for (let b = 0; b < rows; b++) {
      const e = events(s, b);
      const first = b * L + (L - e);
      out.view.fill(0, b * L * out.columns, first * out.columns);
      if (e === 0) continue;
      offsets[1] = BigInt(e);
      ctx.check(
        sym.rf_seq_attention(null, 1, a.heads, a.headDim, dv, q.view.subarray(first * q.columns), q.columns, offsets, k.view.subarray(first * k.columns), k.columns,
          v.view.subarray(first * v.columns), v.columns, offsets, mask, null, a.scale, null, 0, null, null, out.view.subarray(first * out.columns), out.columns),
        node,
      );
    }
  });
}

const attention: StepBuilder = (node, ctx) => {
  const a = ctx.attrs(node);
  const dv: number = a.valueDim ?? a.headDim;
  const { q, k, v, out } = attentionOperands(ctx, node, a);
  if (q.slot.role === "candidate" && k.slot.role === "context" && v.slot.role === "context") return targetOverHistory(node, ctx, a, q, k, v, out);
  requireOneRole(node, q, k, v);
  const jagged = ctx.jagged(node.outputs[0]!);
  if (jagged) return overJaggedTokens(node, ctx, a, q, k, v, out, jagged);
  if (a.events) return overEvents(node, ctx, a, q, k, v, out);
  const qOffsets = evenOffsets(ctx.capacity, q.length);
  const kvOffsets = evenOffsets(ctx.capacity, k.length);
  const mask = enumCode(seqMasks, a.mask, `node "${node.name}" mask`);
  const { sym } = ctx;
  if (node.inputs[3]) {
    const padding = ctx.tensorSlot(node.inputs[3]);
    contiguous(node, node.inputs[3], padding);
    if (padding.role !== q.slot.role) throw new GraphError(`node "${node.name}" (attention): the key padding mask is a ${padding.role} value, q is a ${q.slot.role} value; broadcast it first`);
    const hidden = padding.data as Uint8Array;
    const [kw, vw] = [a.heads * a.headDim, a.heads * dv];
    const kc = ctx.scratch(`${node.name}.k`, ctx.capacity * k.length * kw);
    const vc = ctx.scratch(`${node.name}.v`, ctx.capacity * k.length * vw);
    const visible = ctx.scratchI32(`${node.name}.visible`, ctx.capacity * k.length);
    // Offsets are written through their low 32-bit words (little-endian; the high words stay 0): no BigInt per run.
    const words = new Int32Array(kvOffsets.buffer);
    return step(node, (s) => {
      const rows = rowsOf(out.slot, s);
      let n = 0;
      for (let b = 0; b < rows; b++) {
        words[2 * b] = n;
        for (let j = 0; j < k.length; j++) if (hidden[b * k.length + j] === 0) visible[n++] = b * k.length + j;
      }
      words[2 * rows] = n;
      if (n > 0) {
        ctx.check(sym.rf_gather_rows(null, n, kw, k.view, k.columns, rows * k.length, visible, null, kc, kw), node);
        ctx.check(sym.rf_gather_rows(null, n, vw, v.view, v.columns, rows * k.length, visible, null, vc, vw), node);
      }
      ctx.check(
        sym.rf_seq_attention(null, rows, a.heads, a.headDim, dv, q.view, q.columns, qOffsets, kc, kw, vc, vw, kvOffsets, mask, null, a.scale, null, 0, null, null, out.view, out.columns),
        node,
      );
    });
  }
  return step(node, (s) =>
    ctx.check(
      sym.rf_seq_attention(null, rowsOf(out.slot, s), a.heads, a.headDim, dv, q.view, q.columns, qOffsets, k.view, k.columns, v.view, v.columns, kvOffsets,
        mask, null, a.scale, null, 0, null, null, out.view, out.columns),
      node,
    ),
  );
};

export const attentionSteps: Record<string, StepBuilder> = { attention };
