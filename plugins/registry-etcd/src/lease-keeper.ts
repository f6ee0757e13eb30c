import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from '@plexus/kernel/spi';
import { EtcdErrors } from './etcd-errors';

/** First retry of a failed lease grant after a loss, in ms; doubled up to {@link LEASE_RETRY_MAX_MS}. */
export const LEASE_RETRY_MIN_MS = 100;
/** Longest wait between two grant attempts while etcd is unreachable. */
export const LEASE_RETRY_MAX_MS = 2_000;

/** What a {@link LeaseKeeper} needs from its registry. */
export interface LeaseHost {
  readonly client: Etcd3;
  readonly logger: Logger;
  readonly ttlSeconds: number;
  /** Runs one etcd request, bounded in time; rejects with a coded error. */
  call<T>(what: string, op: () => Promise<T>): Promise<T>;
  connectionLost(cause: unknown): void;
  connectionUp(): void;
  /** Whether leased (ephemeral) entries are registered, so a lost lease must be replaced at once. */
  needsLease(): boolean;
  /** A lease that held entries was lost and a new one is granted: the entries must be written again. */
  leaseRenewed(): void;
}

/**
 * The one lease of a registry instance that its provider and consumer entries are attached to,
 * kept alive by etcd3 (a keep-alive every TTL/3 on a stream).
 *
 * The lease counts as lost when etcd says so (keep-alive answered with TTL 0: revoked, expired,
 * or a server restarted with a fresh data dir), or when keep-alives have failed for longer than
 * the TTL, by which time etcd has expired it. Then, if entries were attached, a new lease is
 * granted (retrying with a backoff while etcd is unreachable) and the host is told, so the
 * registry manager writes the entries again.
 * Scope: one per registry instance; event loop only.
 */
export class LeaseKeeper {
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private granting: Promise<Lease> | undefined;
  private lastAlive = 0;
  /** Set when a lease holding entries was lost; cleared by the next successful grant. */
  private renewPending = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(private readonly host: LeaseHost) {}

  /** The ID of the current lease, granting one first (one request, bounded) when there is none. */
  async id(): Promise<string> {
    await this.current();
    const id = this.leaseId;
    // Lost between the grant and now (a keep-alive answered TTL 0): the caller retries or rejects.
    if (id === undefined) throw EtcdErrors.LEASE_LOST();
    return id;
  }

  /** Treats the lease `id` as lost if it is still the current one (etcd refused it on a put). */
  invalidate(id: string, cause: unknown): void {
    if (this.lease !== undefined && this.leaseId === id) this.lost(this.lease, cause);
  }

  /** Revokes the lease, which deletes every entry attached to it; bounded by the request timeout. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearRetry();
    const lease = this.lease;
    this.lease = undefined;
    this.leaseId = undefined;
    if (lease === undefined) return;
    try {
      await this.host.call('revoking the lease', () => lease.revoke());
    } catch (err) {
      // Unreachable etcd: the entries go when the lease expires, within one TTL.
      lease.release();
      this.host.logger.warn(`etcd registry: could not revoke the lease on close; its entries expire within ${this.host.ttlSeconds} s`, {
        cause: (err as Error)?.message,
      });
    }
  }

  private current(): Promise<Lease> {
    if (this.lease !== undefined) return Promise.resolve(this.lease);
    if (this.granting === undefined) {
      this.granting = this.grant().finally(() => {
        this.granting = undefined;
      });
      // Every caller handles its own copy of the outcome; a grant that loses a race with close()
      // must not also surface as an unhandled rejection of this shared promise.
      this.granting.catch(() => undefined);
    }
    return this.granting;
  }

  private async grant(): Promise<Lease> {
    // A register still running when the registry closed: say so, rather than what the closed client says.
    if (this.closed) throw EtcdErrors.CLOSED('register');
    const lease = this.host.client.lease(this.host.ttlSeconds, { autoKeepAlive: true });
    lease.on('lost', (err: unknown) => this.lost(lease, err));
    lease.on('keepaliveFailed', (err: unknown) => this.keepaliveFailed(lease, err));
    lease.on('keepaliveSucceeded', () => {
      if (lease !== this.lease) return;
      this.lastAlive = Date.now();
      this.host.connectionUp();
    });
    let id: string;
    try {
      id = await this.host.call('granting a lease', () => lease.grant());
    } catch (err) {
      lease.release();
      // The registry closed while the grant was on its way: that is the reason, not the closed client's complaint.
      if (this.closed) throw EtcdErrors.CLOSED('register');
      throw err;
    }
    if (this.closed) {
      // close() ran while the grant was in flight: give the lease back rather than leak it.
      void this.host.call('revoking the lease', () => lease.revoke()).catch(() => lease.release());
      throw EtcdErrors.CLOSED('register');
    }
    this.lease = lease;
    this.leaseId = id;
    this.lastAlive = Date.now();
    this.failures = 0;
    this.clearRetry();
    if (this.renewPending) {
      this.renewPending = false;
      this.host.leaseRenewed();
    }
    return lease;
  }

  private keepaliveFailed(lease: Lease, err: unknown): void {
    if (lease !== this.lease) return;
    this.host.connectionLost(err);
    // Past the TTL without a keep-alive, etcd has expired the lease whatever the client thinks.
    if (Date.now() - this.lastAlive >= this.host.ttlSeconds * 1000) this.lost(lease, err);
  }

  private lost(lease: Lease, cause: unknown): void {
    if (lease !== this.lease || this.closed) return;
    this.lease = undefined;
    this.leaseId = undefined;
    lease.release();
    const holding = this.host.needsLease();
    this.host.logger.warn(`etcd registry: lease lost${holding ? '; granting a new one and registering again' : ''}`, {
      cause: (cause as Error)?.message ?? String(cause),
    });
    if (!holding) return;
    this.renewPending = true;
    this.renew();
  }

  /** Grants a new lease now, and again after a backoff until one is granted or the keeper closes. */
  private renew(): void {
    if (this.closed || !this.renewPending) return;
    this.current().catch(() => {
      if (this.closed || this.lease !== undefined || this.retryTimer !== undefined) return;
      const delay = Math.min(LEASE_RETRY_MIN_MS * 2 ** this.failures, LEASE_RETRY_MAX_MS);
      this.failures = Math.min(this.failures + 1, 16);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.renew();
      }, delay);
    });
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
