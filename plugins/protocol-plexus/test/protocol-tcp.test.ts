import { TcpTransport } from '@plexus/transport-tcp';
import { protocolSuite } from './support/suite';

protocolSuite('TCP on 127.0.0.1', () => new TcpTransport());
