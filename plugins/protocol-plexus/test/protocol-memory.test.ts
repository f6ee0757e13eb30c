import { MemoryTransport } from '@plexus/kernel/testing';
import { protocolSuite } from './support/suite';

protocolSuite('the in-memory transport', () => new MemoryTransport());
protocolSuite('the in-memory transport, re-cutting the stream at random', () => new MemoryTransport({ fragment: { seed: 7, maxChunk: 4096 } }));
