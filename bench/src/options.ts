/**
 * Command-line options of `npm run bench` (`node dist/run.js`).
 */
import { PIN_MODES, type PinMode } from './affinity';
import { PAYLOAD_KINDS, type PayloadKind } from './payload';
import { LARGE_PAYLOAD_PEER_NAMES, PEER_NAMES } from './peers';

/** Parsed command line. */
export interface CliOptions {
  rounds: number;
  durationMs: number;
  warmupMs: number;
  peers: string[];
  concurrency: number[];
  pin: PinMode;
  payload: PayloadKind;
  quick: boolean;
  codecs: boolean;
  onlyCodecs: boolean;
  /** The streaming measurement: with the RPC bench (default), alone (`--streams`) or not at all. */
  streams: 'also' | 'only' | 'off';
  /** Items per measured stream. */
  streamItems: number;
  verbose: boolean;
  help: boolean;
}

/** Usage text for `--help`. */
export const USAGE = `Usage: npm run bench -- [options]

  --rounds n            rounds over all peers (default 3)
  --duration ms         measured window per peer and concurrency (default 3000)
  --warmup ms           warmup before each window (default 1000)
  --peers a,b           peers to run (default ${PEER_NAMES.join(',')})
  --concurrency 1,100   outstanding calls per client (default 1,100)
  --pin mode            split (default: one CPU each, like two hosts), auto (c=1 on one shared CPU), same, none
  --payload kind        small (default, ~100 B object) or 64k (64 KiB binary body, MB/s; default peers
                        ${LARGE_PAYLOAD_PEER_NAMES.join(',')})
  --quick               1 round, 1000 ms windows, 500 ms warmup
  --codecs              run the codec suite as well
  --only-codecs         run only the codec suite
  --streams             run only the streaming measurement (plexus vs raw-msgpack, items/s;
                        it also runs after the RPC bench by default, about 5 s)
  --no-streams          leave the streaming measurement out of the default run
  --stream-items n      items per measured stream (default 100000)
  --verbose             show the peer processes' output
  --help                this text`;

/** Parses `argv` (without node and the script); throws with a usable message on a bad option. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    rounds: 3,
    durationMs: 3000,
    warmupMs: 1000,
    peers: [...PEER_NAMES],
    concurrency: [1, 100],
    pin: 'split',
    payload: 'small',
    quick: false,
    codecs: false,
    onlyCodecs: false,
    streams: 'also',
    streamItems: 100_000,
    verbose: false,
    help: false,
  };
  let rounds: number | undefined;
  let duration: number | undefined;
  let warmup: number | undefined;
  let peersGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--rounds':
        rounds = positiveInt(flag, value());
        break;
      case '--duration':
        duration = positiveInt(flag, value());
        break;
      case '--warmup':
        warmup = positiveInt(flag, value(), true);
        break;
      case '--peers':
        o.peers = list(value());
        peersGiven = true;
        for (const p of o.peers) {
          if (!PEER_NAMES.includes(p)) throw new Error(`Unknown peer "${p}". Known peers: ${PEER_NAMES.join(', ')}`);
        }
        break;
      case '--concurrency':
        o.concurrency = list(value()).map((c) => positiveInt(flag, c));
        break;
      case '--pin': {
        const mode = value();
        if (!(PIN_MODES as readonly string[]).includes(mode)) throw new Error(`--pin expects one of ${PIN_MODES.join(', ')}, got "${mode}"`);
        o.pin = mode as PinMode;
        break;
      }
      case '--payload': {
        const kind = value();
        if (!(PAYLOAD_KINDS as readonly string[]).includes(kind)) throw new Error(`--payload expects one of ${PAYLOAD_KINDS.join(', ')}, got "${kind}"`);
        o.payload = kind as PayloadKind;
        break;
      }
      case '--quick':
        o.quick = true;
        break;
      case '--codecs':
        o.codecs = true;
        break;
      case '--only-codecs':
        o.onlyCodecs = true;
        o.codecs = true;
        break;
      case '--streams':
        o.streams = 'only';
        break;
      case '--no-streams':
        o.streams = 'off';
        break;
      case '--stream-items':
        o.streamItems = positiveInt(flag, value());
        break;
      case '--verbose':
        o.verbose = true;
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new Error(`Unknown option "${argv[i]}"\n\n${USAGE}`);
    }
  }
  if (o.payload === '64k') {
    if (!peersGiven) o.peers = [...LARGE_PAYLOAD_PEER_NAMES];
    const cannot = o.peers.filter((p) => !LARGE_PAYLOAD_PEER_NAMES.includes(p));
    if (cannot.length > 0) throw new Error(`--payload 64k: ${cannot.join(', ')} cannot carry it as the same bytes; use --peers among ${LARGE_PAYLOAD_PEER_NAMES.join(',')}`);
  }
  // --quick sets the defaults; explicit values still win.
  if (o.onlyCodecs) o.streams = 'off';
  o.rounds = rounds ?? (o.quick ? 1 : o.rounds);
  o.durationMs = duration ?? (o.quick ? 1000 : o.durationMs);
  o.warmupMs = warmup ?? (o.quick ? 500 : o.warmupMs);
  return o;
}

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function positiveInt(flag: string, v: string, zeroOk = false): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) throw new Error(`${flag} expects a ${zeroOk ? 'non-negative' : 'positive'} integer, got "${v}"`);
  return n;
}
