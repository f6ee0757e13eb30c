/**
 * grpc peer, server process: @grpc/grpc-js with an echo handler, insecure, on 127.0.0.1.
 */
import * as grpc from '@grpc/grpc-js';
import { hostServer } from '../peer-host';
import type { BenchPayload } from '../payload';
import { echoService } from './grpc-service';

hostServer(async () => {
  const server = new grpc.Server();
  server.addService(echoService, {
    echo: (call: grpc.ServerUnaryCall<BenchPayload, BenchPayload>, callback: grpc.sendUnaryData<BenchPayload>) => {
      callback(null, call.request);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  return {
    port,
    info: { grpcJs: grpcVersion() },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
});

function grpcVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@grpc/grpc-js/package.json') as { version: string }).version;
}
