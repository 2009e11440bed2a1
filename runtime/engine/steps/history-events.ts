// A request's events in a declared history (sequence) input: the stager's
// count where the batch carries one (graph/schema.ts `sequence`: a ranking
// request's history of any length), else the row's slots after its leading
// padding run (flat rows, batches staged by hand). The HSTU layers and the
// attention op's `events` window read their jagged extents here, and where a
// request's first event value lies: after its padding in its [L] slots, or at its
// offset when the batch staged the history as values + offsets (stager.ts).
import type { RunState, Slot } from "../plan-context";

/**
 * Request b's events in the history whose ids are the value `name`: the staged count where the
 * batch carries one for that input (a context slot, one row per request), else L less the row's
 * leading padding.
 */
export function eventsOf(s: RunState, name: string, ids: Slot<Int32Array | BigInt64Array>, b: number, L: number, padding: number): number {
  const lengths = ids.role === "context" ? s.sequenceLengths?.[name] : undefined;
  return lengths ? lengths[b]! : L - leadingPads(ids, b, L, padding);
}

/** Leading padding slots of row `row` of an id slot. */
export function leadingPads(ids: Slot<Int32Array | BigInt64Array>, row: number, L: number, padding: number): number {
  const base = row * ids.ld;
  let t = 0;
  if (ids.data instanceof BigInt64Array) {
    const p = BigInt(padding);
    while (t < L && ids.data[base + t] === p) t++;
  } else {
    while (t < L && ids.data[base + t] === padding) t++;
  }
  return t;
}

/**
 * Where request b's first event value lies in a history input's storage (an index into
 * slot.data): at its offset when the batch staged `name` as values + offsets, else after the
 * row's leading padding in its [L] slots.
 */
export function firstEvent(s: RunState, name: string, slot: Slot<any>, b: number, events: number, L: number): number {
  const offsets = s.sequenceOffsets?.[name];
  return offsets ? offsets[b]! : b * slot.ld + (L - events);
}
