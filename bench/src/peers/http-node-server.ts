/**
 * Bare `node:http` peer, server process: parses the JSON body of every POST and answers it back
 * as JSON, keep-alive — what a hand-written HTTP JSON endpoint costs, and so the floor for the
 * `http` protocol. Like the http protocol it reads `[payload]` (an argument array) and answers the
 * payload.
 */
import * as http from 'node:http';
import { hostServer } from '../peer-host';

hostServer(async () => {
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const args = JSON.parse((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8')) as unknown[];
      const body = Buffer.from(JSON.stringify(args[0]));
      res.writeHead(200, ['content-type', 'application/json', 'content-length', String(body.length)]);
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    info: { serializer: 'json' },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
});
