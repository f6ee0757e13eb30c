/**
 * The wall clock as calls read it: `Date.now()` read once per synchronous stretch of the event
 * loop and reused until the microtask checkpoint that ends it (as libuv caches its loop time for
 * timers). A batch of frames decoded in one read, or the continuations of one batch of answers,
 * then share one reading instead of paying ~40 ns each for it on every call.
 *
 * How stale it can be: by the length of the synchronous code that ran since the first reading in
 * this stretch — the same code that kept the event loop (and every timer) from running. Deadlines
 * computed from it are at most that much early; they are checked against the real clock by the
 * deadline wheel.
 */
let cached = 0;
let valid = false;

function invalidate(): void {
  valid = false;
}

/** Epoch ms, shared by everything that runs in this synchronous stretch. */
export function loopNow(): number {
  if (valid) return cached;
  cached = Date.now();
  valid = true;
  queueMicrotask(invalidate);
  return cached;
}
