// A discrete-event clock for coalescer tests: `now` and `schedule` to inject into
// CoalescerOptions. run() fires what was scheduled in time order and lets promise
// callbacks settle after each firing, so a simulated second of traffic takes no real
// second and comes out the same on every machine.

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** Simulated time in ms: a clock, a timer queue, and a loop that runs it. */
export class VirtualTime {
  #t = 0;
  #seq = 0;
  /** Binary min-heap on (at, seq): same-time events fire in the order they were scheduled. */
  readonly #heap: Pending[] = [];

  readonly now = (): number => this.#t;

  /** CoalescerOptions.schedule: run `fn` once `ms` of simulated time have passed. */
  readonly schedule = (fn: () => void, ms: number): (() => void) => {
    const event: Pending = { at: this.#t + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#push(event);
    return () => void (event.live = false);
  };

  /** Fire every event due by `until` (ms), in time order; the clock then reads `until`. */
  async runUntil(until: number): Promise<void> {
    while (this.#heap.length > 0 && this.#heap[0]!.at <= until) {
      const event = this.#pop();
      if (!event.live) continue;
      this.#t = Math.max(this.#t, event.at);
      event.fn();
      // Let what the firing resolved run (the coalescer's continuation, the test's handlers) before time moves on.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#t = Math.max(this.#t, until);
  }

  #push(event: Pending): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Pending {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
