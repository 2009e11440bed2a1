// The coalescer's default timer (CoalescerOptions.schedule): a wait on `now`'s clock
// that stays accurate below a millisecond, where setTimeout cannot.

/**
 * Call `fn` after `ms`; returns a cancel function. Timers fire on a 1 ms grid, so a sub-millisecond wait would
 * become a whole millisecond: those re-check on every event-loop turn instead
 * (setImmediate runs after pending I/O, so arriving requests still join the batch).
 */
export function wakeAfter(ms: number, now: () => number, fn: () => void): () => void {
  if (ms >= 1) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  }
  const until = now() + ms;
  let handle: ReturnType<typeof setImmediate>;
  const tick = () => {
    if (now() >= until) fn();
    else handle = setImmediate(tick);
  };
  handle = setImmediate(tick);
  return () => clearImmediate(handle);
}
