// The history (sequence) inputs of a ranking request: a model declares an input a
// sequence of at most maxLength events (graph/schema.ts `sequence`), oldest first;
// a request sends it as [n] or [1, n] for any n >= 0 (the exact [1, L] left-padded
// form is the n = L case). Here one request's history tensor is checked for shape
// and measured: how many values it sent, how many of them the stager copies (the
// most recent maxLength, keep "last"), how many are events (after the leading
// padding run), and whether events were dropped (the response's `truncated`).
import { RequestError } from "../errors";
import type { GraphInput } from "../graph/schema";
import type { Tensor } from "../tensor/tensor";

/** One request's history input, measured by validate(): what the stager copies and the kernels see. */
export interface SequenceExtent {
  /** Values sent (n). */
  sent: number;
  /** Values copied: the last min(n, maxLength), into the slots after maxLength − copied padding slots. */
  copied: number;
  /** Events the kernels see: the copied values after their leading padding run (≤ maxLength). */
  events: number;
  /** Events sent (n less its leading padding): more than maxLength when the oldest were dropped. */
  sentEvents: number;
}

/** How one history input was cut to the model's maxLength (RankResponse.truncated). */
export interface Truncation {
  /** Events sent. */
  length: number;
  /** Events kept (the most recent). */
  kept: number;
}

/** The values a history tensor holds: [n] or [1, n]; anything else is a 400 naming the field. */
export function sequenceLength(input: GraphInput & { sequence: NonNullable<GraphInput["sequence"]> }, t: Tensor, field: string): number {
  const shape = t.shape;
  if (shape.length === 1) return shape[0]!;
  if (shape.length === 2 && shape[0] === 1) return shape[1]!;
  const why = shape.length === 2 ? `${shape[0]} rows (a history is one row per request)` : `rank ${shape.length}`;
  throw new RequestError(`${field}: expected a history of shape [n] or [1, n] (n events, oldest first; at most ${input.sequence.maxLength} are kept), got [${shape.join(", ")}]: ${why}`, "bad_shape");
}

/**
 * Measure a history of `sent` values whose first `leadingPads` are the padding id: the stager
 * copies the most recent maxLength values (dropping the oldest), so the kernels see the events
 * among them.
 */
export function sequenceExtent(maxLength: number, sent: number, leadingPads: number): SequenceExtent {
  const copied = Math.min(sent, maxLength);
  const sentEvents = sent - leadingPads;
  return { sent, copied, events: Math.min(sentEvents, maxLength), sentEvents };
}

/** The truncation report of a measured history, or undefined when every event was kept. */
export function truncationOf(extent: SequenceExtent): Truncation | undefined {
  return extent.sentEvents > extent.events ? { length: extent.sentEvents, kept: extent.events } : undefined;
}

/**
 * Inputs of one sequence group are one history's per-event features: their lengths must agree.
 * Throws a 400 naming both fields otherwise.
 */
export function checkGroupLengths(inputs: readonly GraphInput[], extents: ReadonlyMap<string, SequenceExtent>, fieldOf: (name: string) => string): void {
  const first = new Map<string, GraphInput>();
  for (const input of inputs) {
    const group = input.sequence?.group;
    const extent = extents.get(input.name);
    if (group === undefined || !extent) continue;
    const head = first.get(group);
    if (!head) {
      first.set(group, input);
      continue;
    }
    const other = extents.get(head.name)!;
    if (other.sent !== extent.sent) {
      throw new RequestError(
        `${fieldOf(input.name)}: has ${extent.sent} events, ${fieldOf(head.name)} has ${other.sent} (inputs of history "${group}" describe the same events: send equal lengths)`,
        "sequence_length_mismatch",
      );
    }
  }
}
