import type { ConnectOptions } from '@plexus/kernel/spi';
import { ClientConnection } from './client-connection';
import type { ProtocolCore } from './protocol-core';

/**
 * The connections to one provider address (`connections`, default 1), shared round-robin by every
 * reference to that address. Scope: per provider address; counted so the last reference to go
 * closes it.
 */
export class ConnectionPool {
  readonly connections: ClientConnection[];
  /** References holding this pool. */
  refs = 0;
  private next = 0;

  constructor(core: ProtocolCore, readonly address: string, connectOptions: ConnectOptions, size: number) {
    this.connections = [];
    for (let i = 0; i < size; i++) this.connections.push(new ClientConnection(core, address, connectOptions));
  }

  /** The connection for the next call: round-robin, preferring ones that can take calls. */
  pick(): ClientConnection {
    const conns = this.connections;
    const n = conns.length;
    if (n === 1) return conns[0];
    for (let i = 0; i < n; i++) {
      const c = conns[this.next];
      this.next = (this.next + 1) % n;
      if (c.available) return c;
    }
    return conns[this.next];
  }

  /** True while some connection can take calls (never-opened ones count: they connect lazily). */
  isAvailable(): boolean {
    for (const c of this.connections) if (c.available) return true;
    return false;
  }

  close(): void {
    for (const c of this.connections) c.close();
  }

  /** Closes each connection once its calls in flight are answered, at the latest after `maxWaitMs`. */
  closeWhenIdle(maxWaitMs: number): void {
    for (const c of this.connections) c.closeWhenIdle(maxWaitMs);
  }
}
