// Memory planning: every intermediate value gets a byte range in one arena,
// reused across batches. Values whose lifetimes (first write .. last read, in
// node order) do not overlap may share bytes. Aliased values (concat slices)
// live inside their base, so only bases are placed.

export interface Lifetime {
  name: string;
  bytes: number;
  /** Index of the node that first writes it (-1: written before the first node). */
  start: number;
  /** Index of the last node that reads it (Infinity: a graph output). */
  end: number;
}

export interface MemoryPlan {
  offsets: Map<string, number>;
  /** Arena size in bytes. */
  arenaBytes: number;
  /** Bytes if every value had its own buffer. */
  naiveBytes: number;
}

const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Greedy best-fit by decreasing size: each buffer takes the lowest offset not
 * used by an already placed buffer whose lifetime overlaps its own.
 */
export function planMemory(lifetimes: Lifetime[]): MemoryPlan {
  const order = [...lifetimes].sort((a, b) => b.bytes - a.bytes || a.start - b.start);
  const placed: { offset: number; size: number; l: Lifetime }[] = [];
  const offsets = new Map<string, number>();
  let arenaBytes = 0;
  for (const l of order) {
    const size = align(l.bytes);
    const busy = placed
      .filter((p) => p.l.start <= l.end && l.start <= p.l.end)
      .map((p) => [p.offset, p.offset + p.size] as const)
      .sort((a, b) => a[0] - b[0]);
    let offset = 0;
    for (const [lo, hi] of busy) {
      if (offset + size <= lo) break;
      offset = Math.max(offset, hi);
    }
    placed.push({ offset, size, l });
    offsets.set(l.name, offset);
    arenaBytes = Math.max(arenaBytes, offset + size);
  }
  return { offsets, arenaBytes, naiveBytes: lifetimes.reduce((a, l) => a + align(l.bytes), 0) };
}

/** "memory 41.2 MB -> 12.8 MB, 37 -> 6 buffers" */
export function describePlan(plan: MemoryPlan): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  const distinct = new Set(plan.offsets.values()).size;
  return `memory ${mb(plan.naiveBytes)} -> ${mb(plan.arenaBytes)}, ${plan.offsets.size} -> ${distinct} buffers`;
}
