import type { Logger, MethodSettings } from '@plexus/kernel/spi';
import { ClusterErrors } from './errors';

/** Providers the forking cluster calls at once when `forks` is not set (Dubbo's default). */
export const DEFAULT_FORKS = 2;

/** Keys already reported as unusable, per method settings object: each is logged once, not per call. */
const reported = new WeakMap<MethodSettings, Set<string>>();

function reportOnce(settings: MethodSettings, key: string, value: string, fallback: string, logger: Logger | undefined): void {
  let keys = reported.get(settings);
  if (keys === undefined) reported.set(settings, (keys = new Set()));
  if (keys.has(key)) return;
  keys.add(key);
  const e = ClusterErrors.OPTION(settings.method, key, value, fallback);
  logger?.warn(e.message, { code: e.code });
}

/**
 * Is `sticky` on for the method? `true`/`1` on, `false`/`0`/unset off; anything else is reported
 * once on `logger` and counts as off. Reads one property on the common path (unset).
 */
export function stickyOf(settings: MethodSettings, logger?: Logger): boolean {
  const v = settings.params.sticky;
  if (v === undefined || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  reportOnce(settings, 'sticky', v, 'false', logger);
  return false;
}

/**
 * The method's `forks`: an integer of at least 1, default {@link DEFAULT_FORKS}. Anything else is
 * reported once on `logger` and the default stands in.
 */
export function forksOf(settings: MethodSettings, logger?: Logger): number {
  const v = settings.params.forks;
  if (v === undefined || v === '') return DEFAULT_FORKS;
  const n = Number(v);
  if (Number.isInteger(n) && n >= 1) return n;
  reportOnce(settings, 'forks', v, String(DEFAULT_FORKS), logger);
  return DEFAULT_FORKS;
}
