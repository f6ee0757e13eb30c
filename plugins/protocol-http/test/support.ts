import * as http from 'node:http';
import { Plexus } from '@plexus/kernel';

/** Apps made by a test, stopped after it (newest first). */
export const apps: Plexus[] = [];

export async function stopApps(): Promise<void> {
  for (const app of apps.splice(0).reverse()) await app.stop();
}

/** An application on 127.0.0.1 with no registry; `http` options go in its protocols entry. */
export function app(name: string, extra: Record<string, unknown> = {}): Plexus {
  const a = Plexus.create({ logLevel: 'silent', application: { name }, registry: 'none', ...extra });
  apps.push(a);
  return a;
}

/** A provider serving `impl` as `iface` over http on a free port; resolves with its port. */
export async function provider(iface: string, impl: object, service: Record<string, unknown> = {}, http: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<{ app: Plexus; port: number }> {
  const p = app(`${iface}-provider`, { protocols: [{ name: 'http', host: '127.0.0.1', port: 0, ...http }], ...extra });
  p.provide({ interface: iface, ...service }, impl);
  await p.start();
  const url = p.exportedUrls().find((u) => u.protocol === 'http');
  if (url === undefined) throw new Error('no http URL exported');
  return { app: p, port: url.port };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request on a fresh connection (no agent), bounded by `timeoutMs`. */
export function request(port: number, method: string, path: string, body?: string | Buffer, headers: http.OutgoingHttpHeaders = {}, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}

export const post = (port: number, path: string, body: string, headers: http.OutgoingHttpHeaders = {}) => request(port, 'POST', path, body, headers);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
