import { PlexusError, RpcError } from '@plexus/kernel/spi';

/** The one line a failed command prints: `<code>: <message> (<hint>)`, never a stack. */
export function errorLine(err: unknown): string {
  if (PlexusError.is(err)) {
    const e = err as PlexusError;
    // The kernel appends the hint to the message; it is printed once, at the end.
    const cut = e.hint ? e.message.lastIndexOf(`\n  hint: ${e.hint}`) : -1;
    const message = firstLine(cut >= 0 ? e.message.slice(0, cut) : e.message);
    return `${e.code}: ${message}${e.hint ? ` (${firstLine(e.hint)})` : ''}`;
  }
  if (RpcError.is(err)) {
    const e = err as RpcError & { reason?: string };
    return `${e.code}${e.reason ? ` ${e.reason}` : ''}: ${firstLine(e.message)}`;
  }
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return `${(err as { code: string }).code}: ${firstLine(String((err as { message?: unknown }).message))}`;
  }
  return `PLEXUS_ERR_CLI_UNEXPECTED: ${firstLine(err instanceof Error ? err.message : String(err))}`;
}

function firstLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length <= 1) return lines[0] ?? '';
  // "Invalid configuration (2 problems):" followed by one problem a line: the problems follow the colon.
  return lines[0].endsWith(':') ? `${lines[0]} ${lines.slice(1).join('; ')}` : lines.join('; ');
}

/** JSON of a call's result: bigints as strings, binary as base64 `{ $binary }`, undefined as null. */
export function toJson(value: unknown, indent?: number): string {
  return (
    JSON.stringify(
      value,
      function (this: unknown, key, v: unknown) {
        const raw = (this as Record<string, unknown>)[key];
        if (typeof v === 'bigint') return v.toString();
        if (raw instanceof Uint8Array) return { $binary: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
        if (raw instanceof Map) return Object.fromEntries(raw);
        if (raw instanceof Set) return [...raw];
        return v;
      },
      indent,
    ) ?? 'null'
  );
}

/** A plain-text table: a header row, a rule, left-aligned columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Milliseconds with a precision that suits them: `0.084 ms`, `12.3 ms`, `1530 ms`. */
export function ms(value: number): string {
  if (value < 1) return `${value.toFixed(3)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value)} ms`;
}
