/**
 * Bare `node:http` peer, client process: one POST per call over a keep-alive `http.Agent`
 * (64 sockets, as the http protocol's default), JSON in and out.
 */
import * as http from 'node:http';
import { hostClient, promiseCaller, verify } from '../peer-host';
import { benchPayload } from '../payload';

hostClient(async (args) => {
  const payload = benchPayload();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64, scheduling: 'lifo' });
  const port = args.port ?? 0;
  const once = () =>
    new Promise<unknown>((resolve, reject) => {
      const body = Buffer.from(JSON.stringify([payload]));
      const req = http.request(
        { agent, host: '127.0.0.1', port, method: 'POST', path: '/bench.Echo/echo', headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
            else resolve(JSON.parse((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8')));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await verify(once, payload);
  return { info: { serializer: 'json' }, createCaller: promiseCaller(once), close: () => agent.destroy() };
});
