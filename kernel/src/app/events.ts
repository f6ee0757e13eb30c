import { defineError } from '../errors/plexus-error';
import type { Logger } from '../spi/logger';

/**
 * The application's lifecycle events (DESIGN §8, §11). Names are `area:what`; every event carries
 * its `type` and `at` (epoch ms) plus the fields listed here.
 *
 * | type | when | fields |
 * |---|---|---|
 * | `app:started` | `start()` finished | `application` |
 * | `app:stopping` / `app:stopped` | a graceful stop began / ended | `application` |
 * | `service:exported` | a service is served on a protocol | `service`, `url` |
 * | `service:registered` / `service:unregistered` | its entry was written to / removed from the registries | `service`, `url` |
 * | `provider:up` / `provider:down` | a reference's directory gained / lost a provider | `service`, `address`, `url` |
 * | `node:suspended` / `node:restored` | a node left / rejoined rotation (breaker, health) | `address`, `holder`, `reason` |
 * | `circuit:open` / `circuit:close` | a circuit breaker changed state | `service`, `method`, `address` |
 */
export interface PlexusEvent {
  readonly type: string;
  readonly at: number;
  readonly [field: string]: unknown;
}

export type PlexusEventListener = (event: PlexusEvent) => void;

const ERR_LISTENER = defineError(
  'PLEXUS_ERR_APP_EVENT_LISTENER',
  (type: string, message: string) => `a listener of "${type}" threw: ${message}`,
  'Event listeners must not throw; catch inside the listener. The event still reached the other listeners.',
);

/**
 * Where the application's events go: `app.on(type, listener)` (or `'*'` for all). Plugins emit
 * through the `EVENTS` token (`ctx.inject(EVENTS)`). Listeners run synchronously, in the order
 * they were added; one that throws is logged with a code and the others still run. Emitting with
 * no listener costs a map lookup. Scope: one per application.
 */
export class AppEvents {
  private readonly listeners = new Map<string, PlexusEventListener[]>();

  constructor(private readonly logger: Logger) {}

  on(type: string, listener: PlexusEventListener): void {
    const list = this.listeners.get(type);
    if (list === undefined) this.listeners.set(type, [listener]);
    else list.push(listener);
  }

  off(type: string, listener: PlexusEventListener): void {
    const list = this.listeners.get(type);
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(type);
  }

  /** Whether anyone listens to `type` (or to everything): lets emitters skip building the event. */
  wants(type: string): boolean {
    return this.listeners.has(type) || this.listeners.has('*');
  }

  emit(type: string, fields: Record<string, unknown> = {}): void {
    if (!this.wants(type)) return;
    const event: PlexusEvent = { ...fields, type, at: Date.now() };
    this.deliver(this.listeners.get(type), event);
    this.deliver(this.listeners.get('*'), event);
  }

  private deliver(list: PlexusEventListener[] | undefined, event: PlexusEvent): void {
    if (list === undefined) return;
    for (const listener of list.slice()) {
      try {
        listener(event);
      } catch (err) {
        const e = ERR_LISTENER(event.type, (err as Error)?.message ?? String(err));
        this.logger.warn(e.message, { code: e.code });
      }
    }
  }
}
