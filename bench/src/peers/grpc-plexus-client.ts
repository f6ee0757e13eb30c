/**
 * plexus-grpc peer, client process: exactly the grpc peer's grpc-js client (one channel, msgpack
 * messages, `/bench.Echo/Echo`), so `plexus-grpc/grpc` compares the two servers under one client.
 */
import './grpc-client';
