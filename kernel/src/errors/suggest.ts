/**
 * "Did you mean" for names users type: config keys, extension names, reference ids. Runs only when
 * something is already wrong, so it favours clarity over speed.
 */

/**
 * The edit distance between two strings (optimal string alignment): the fewest single-character
 * insertions, deletions, substitutions and swaps of adjacent characters that turn `a` into `b`,
 * so the common typo `extar` is one edit from `extra`. Case-sensitive; three rows of memory.
 */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = new Array<number>(b.length + 1);
  let curr = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cb = b.charCodeAt(j - 1);
      const cost = ca === cb ? 0 : 1;
      let d = Math.min(prev[j] + 1, curr[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) d = Math.min(d, before[j - 2] + 1);
      curr[j] = d;
    }
    [before, prev, curr] = [prev, curr, before];
  }
  return prev[b.length];
}

/**
 * The candidate nearest to `name`, or undefined when none is near enough to be a likely typo.
 * Comparison ignores case, so `Timeout` suggests `timeout`. "Near enough" grows with the length of
 * the name (1 edit up to 5 characters, 2 up to 8, then 3) unless `maxDistance` is given; on a tie
 * the earlier candidate wins, so list the most common names first.
 */
export function suggest(name: string, candidates: Iterable<string>, maxDistance?: number): string | undefined {
  const wanted = name.toLowerCase();
  const limit = maxDistance ?? (wanted.length <= 5 ? 1 : wanted.length <= 8 ? 2 : 3);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const d = levenshtein(wanted, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
