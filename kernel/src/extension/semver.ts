/**
 * Just enough semver to check a plugin's `kernel` range: `*`, `x.y.z`, `^x.y.z`, `~x.y.z`,
 * `>=x.y.z`, `<x.y.z` and space-separated (AND) / `||`-separated (OR) combinations.
 */
type Version = [number, number, number];

function parse(v: string): Version | undefined {
  const m = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:[-+].*)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = (s: string | undefined) => (s === undefined || s === 'x' || s === '*' ? 0 : Number(s));
  return [Number(m[1]), n(m[2]), n(m[3])];
}

function cmp(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function satisfiesOne(v: Version, comparator: string): boolean {
  const c = comparator.trim();
  if (c === '' || c === '*' || c === 'x') return true;
  const m = /^(\^|~|>=|<=|>|<|=)?\s*(.+)$/.exec(c);
  if (!m) return false;
  const op = m[1] ?? '=';
  const r = parse(m[2]);
  if (!r) return false;
  switch (op) {
    case '^': {
      if (cmp(v, r) < 0) return false;
      if (r[0] > 0) return v[0] === r[0];
      if (r[1] > 0) return v[0] === 0 && v[1] === r[1];
      return v[0] === 0 && v[1] === 0 && v[2] === r[2];
    }
    case '~':
      return cmp(v, r) >= 0 && v[0] === r[0] && v[1] === r[1];
    case '>=':
      return cmp(v, r) >= 0;
    case '<=':
      return cmp(v, r) <= 0;
    case '>':
      return cmp(v, r) > 0;
    case '<':
      return cmp(v, r) < 0;
    default:
      return cmp(v, r) === 0;
  }
}

export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  if (!v) return false;
  return range.split('||').some((alt) => alt.trim().split(/\s+/).every((c) => satisfiesOne(v, c)));
}
