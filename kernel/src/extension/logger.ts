import type { Logger } from '../spi/logger';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = keyof typeof LEVELS;

function levelFromEnv(): Level {
  const v = (process.env.PLEXUS_LOG_LEVEL ?? '').toLowerCase();
  if (v in LEVELS) return v as Level;
  return process.env.NODE_ENV === 'test' ? 'error' : 'info';
}

/**
 * The default logger: one line per event on stderr, `plexus <level> [scope] message {fields}`.
 * Level from `PLEXUS_LOG_LEVEL` (debug, info, warn, error, silent).
 */
export class ConsoleLogger implements Logger {
  private readonly min: number;
  constructor(private readonly scope = 'plexus', level: Level = levelFromEnv()) {
    this.min = LEVELS[level];
  }
  child(scope: string): ConsoleLogger {
    const level = (Object.keys(LEVELS) as Level[]).find((k) => LEVELS[k] === this.min) ?? 'info';
    return new ConsoleLogger(`${this.scope}:${scope}`, level);
  }
  private write(level: Level, message: string, fields?: Record<string, unknown>): void {
    if (LEVELS[level] < this.min) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${this.scope}] ${message}`;
    if (fields && Object.keys(fields).length) {
      try {
        line += ` ${JSON.stringify(fields, (_k, v) => (v instanceof Error ? { message: v.message, code: (v as { code?: unknown }).code } : v))}`;
      } catch {
        /* fields that cannot be printed are dropped rather than breaking the caller */
      }
    }
    process.stderr.write(`${line}\n`);
  }
  debug(m: string, f?: Record<string, unknown>): void {
    this.write('debug', m, f);
  }
  info(m: string, f?: Record<string, unknown>): void {
    this.write('info', m, f);
  }
  warn(m: string, f?: Record<string, unknown>): void {
    this.write('warn', m, f);
  }
  error(m: string, f?: Record<string, unknown>): void {
    this.write('error', m, f);
  }
}
