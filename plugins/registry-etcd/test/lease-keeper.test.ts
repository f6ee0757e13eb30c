import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { rejectionOf } from '@plexus/kernel/testing';
import { LeaseKeeper, type LeaseHost } from '../src/lease-keeper';
import { RecordingLogger } from './support/etcd';

/** A lease whose grant is answered when the test says so; etcd3's own leases throw once their client closed. */
class FakeLease extends EventEmitter {
  answer!: (id: string) => void;
  fail!: (err: Error) => void;
  grant(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.answer = resolve;
      this.fail = reject;
    });
  }
  revoke(): Promise<void> {
    return Promise.resolve();
  }
  release(): void {}
}

function keeper(): { keeper: LeaseKeeper; leases: FakeLease[] } {
  const leases: FakeLease[] = [];
  const host: LeaseHost = {
    client: { lease: () => (leases.push(new FakeLease()), leases[leases.length - 1]) } as unknown as Etcd3,
    logger: new RecordingLogger(),
    ttlSeconds: 10,
    call: (_what, op) => op(),
    connectionLost: () => undefined,
    connectionUp: () => undefined,
    needsLease: () => true,
    leaseRenewed: () => undefined,
  };
  return { keeper: new LeaseKeeper(host), leases };
}

describe('LeaseKeeper after close', () => {
  it('a lease asked for once closed is refused as closed, and no grant is sent', async () => {
    const { keeper: k, leases } = keeper();
    await k.close();
    await expect(rejectionOf(k.id())).resolves.toMatchObject({ code: 'PLEXUS_ERR_ETCD_CLOSED' });
    expect(leases).toHaveLength(0);
  });

  it('a grant that fails because the registry closed meanwhile is reported as closed, not as the client error', async () => {
    const { keeper: k, leases } = keeper();
    const pending = rejectionOf(k.id());
    await k.close();
    leases[0].fail(new Error('Tried to call a Lease method on etcd3, but the client was already closed'));
    await expect(pending).resolves.toMatchObject({ code: 'PLEXUS_ERR_ETCD_CLOSED' });
  });
});
