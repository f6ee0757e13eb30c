/**
 * The service both plexus peer processes agree on.
 */

/** Interface name and version of the bench service. */
export const ECHO_SERVICE = { interface: 'bench.Echo', version: '1.0.0' } as const;

/** The bench service's contract: returns its argument. */
export interface BenchEcho {
  echo(value: unknown): unknown;
}
