import { readFileSync } from 'node:fs';
import type { TlsOptions } from '@plexus/kernel/spi';
import { ERR_TCP_TLS_CONFIG } from './errors';

type Material = string | Buffer;

/** Key, certificate and CA as Node's `tls` wants them: PEM contents, never paths. */
export interface ResolvedTls {
  key?: Material;
  cert?: Material;
  ca?: Material[];
  passphrase?: string;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  servername?: string;
}

/**
 * Reads file paths once, when a server or client channel is created, so no handshake touches the
 * disk. A string holding `-----BEGIN` is PEM text; any other string is a path.
 */
export function resolveTls(options: TlsOptions): ResolvedTls {
  const resolved: ResolvedTls = {
    requestCert: options.requestCert === true,
    rejectUnauthorized: options.rejectUnauthorized !== false,
  };
  if (options.key !== undefined) resolved.key = load(options.key, 'key');
  if (options.cert !== undefined) resolved.cert = load(options.cert, 'cert');
  if (options.ca !== undefined) {
    resolved.ca = (Array.isArray(options.ca) ? options.ca : [options.ca]).map((ca) => load(ca, 'ca'));
  }
  if (options.passphrase !== undefined) resolved.passphrase = options.passphrase;
  if (options.servername !== undefined) resolved.servername = options.servername;
  return resolved;
}

function load(value: Material, what: string): Material {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value !== 'string') throw ERR_TCP_TLS_CONFIG(what, `expected a string or Buffer, got ${typeof value}`);
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value);
  } catch (err) {
    const e = ERR_TCP_TLS_CONFIG(`${what} from "${value}"`, (err as Error).message);
    e.cause = err;
    throw e;
  }
}
