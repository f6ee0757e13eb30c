import type { EndpointOptions } from '@plexus/kernel/spi';
import { ERR_TCP_BAD_OPTIONS } from './errors';

/** `host:port`, with IPv6 hosts in brackets so the port stays unambiguous. */
export function formatAddress(host: string | undefined, port: number | undefined): string {
  if (host === undefined || port === undefined) return '';
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The address an endpoint names, for messages and for `remoteAddress` before a connection exists. */
export function endpointAddress(options: EndpointOptions, defaultHost: string): string {
  return options.path !== undefined ? options.path : formatAddress(options.host ?? defaultHost, options.port);
}

/** Rejects options no socket could use, before any socket is made. */
export function checkEndpoint(options: EndpointOptions, listening: boolean): void {
  if (options.path !== undefined) {
    if (typeof options.path !== 'string' || options.path.length === 0) throw ERR_TCP_BAD_OPTIONS('`path` must be a non-empty string');
    return;
  }
  const port = options.port;
  const max = 65535;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (listening ? 0 : 1) || port > max) {
    throw ERR_TCP_BAD_OPTIONS(`\`port\` must be an integer in ${listening ? 0 : 1}..${max}, got ${String(port)}`);
  }
}

/** A non-negative duration option with its default. */
export function duration(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw ERR_TCP_BAD_OPTIONS(`\`${name}\` must be a non-negative number of milliseconds, got ${String(value)}`);
  }
  return value;
}
