/**
 * grpc peer, client process: one channel (one HTTP/2 connection) carrying every call.
 */
import * as grpc from '@grpc/grpc-js';
import type { Done } from '../load-loop';
import { hostClient, verify } from '../peer-host';
import { benchValue, type BenchPayload } from '../payload';
import { echoService } from './grpc-service';

type EchoClient = grpc.Client & {
  echo(request: BenchPayload, callback: (err: grpc.ServiceError | null, response?: BenchPayload) => void): grpc.ClientUnaryCall;
};

hostClient(async (args) => {
  // The 64 KiB Buffer travels through the same msgpack codec (grpc-service.ts) as the object.
  const payload = benchValue(args.payload) as BenchPayload;
  const Ctor = grpc.makeGenericClientConstructor(echoService, 'bench.Echo');
  const client = new Ctor(`127.0.0.1:${args.port}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
  );
  const once = () =>
    new Promise<BenchPayload>((resolve, reject) =>
      client.echo(payload, (err, res) => (err ? reject(err) : resolve(res as BenchPayload))),
    );
  await verify(once, payload);
  return {
    createCaller: (done: Done) => {
      const callback = (err: grpc.ServiceError | null) => done(err ?? undefined);
      return () => {
        client.echo(payload, callback);
      };
    },
    close: () => client.close(),
  };
});
