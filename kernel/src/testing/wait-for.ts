/**
 * Resolves once `predicate` holds, checking it now and then every `intervalMs` (default 5); rejects
 * with an error naming `what` after `timeoutMs` (default 5000). A bounded wait for something that
 * happens asynchronously (a registry notification, a closed connection) — a guard against hangs,
 * not a timing assertion: a passing test never waits longer than the event itself takes.
 */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'a condition', intervalMs = 5): Promise<void> {
  if (predicate()) return;
  const end = Date.now() + timeoutMs;
  for (;;) {
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
    if (predicate()) return;
    if (Date.now() >= end) throw new Error(`waitFor: gave up after ${timeoutMs} ms waiting for ${what}`);
  }
}

/** The rejection of `promise`, or undefined when it resolved: `expect(await rejectionOf(p)).toBe(...)`. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err;
  }
}
