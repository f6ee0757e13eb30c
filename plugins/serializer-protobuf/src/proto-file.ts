import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { ProtobufErrors, serializationError } from './errors';
import { DEFAULT_MAX_MESSAGE_SIZE, MessageCodec } from './message-codec';

/** Options of {@link loadProto}. */
export interface ProtoOptions {
  /**
   * Largest message encoded or decoded, in bytes. Default 4 MiB, grpc-js's default receive limit,
   * so a Plexus peer refuses what a grpc-js peer would refuse too.
   */
  maxMessageSize?: number;
  /** Extra folders searched for `import`s after the importing file's own folder. */
  includeDirs?: string[];
}

/** One rpc of a `.proto` service, with codecs for its request and response. */
export interface ProtoMethod {
  readonly name: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly request: MessageCodec;
  readonly response: MessageCodec;
}

/** One service of a `.proto` file. Scope: shared by every call to the service; immutable. */
export class ProtoService {
  private readonly byName = new Map<string, ProtoMethod>();

  constructor(
    /** Full name, package included: `helloworld.Greeter`. */
    readonly name: string,
    service: protobuf.Service,
    maxMessageSize: number,
  ) {
    for (const m of service.methodsArray) {
      m.resolve();
      const request = m.resolvedRequestType!;
      const response = m.resolvedResponseType!;
      this.byName.set(m.name, {
        name: m.name,
        requestStream: m.requestStream === true,
        responseStream: m.responseStream === true,
        request: new MessageCodec(request, maxMessageSize),
        response: new MessageCodec(response, maxMessageSize),
      });
    }
  }

  /** Method names in declaration order. */
  get methods(): string[] {
    return [...this.byName.keys()];
  }

  /** The method, or undefined. */
  find(method: string): ProtoMethod | undefined {
    return this.byName.get(method);
  }

  /** The method; throws a `SERIALIZATION` RpcError (`PLEXUS_ERR_PROTOBUF_METHOD_NOT_FOUND`) otherwise. */
  method(method: string): ProtoMethod {
    const m = this.byName.get(method);
    if (m === undefined) throw serializationError(ProtobufErrors.METHOD_NOT_FOUND, this.name, method, this.methods.join(', ') || '(none)');
    return m;
  }
}

/** A loaded `.proto` file (with its imports). */
export class ProtoFile {
  private readonly services = new Map<string, ProtoService>();

  constructor(
    readonly file: string,
    readonly root: protobuf.Root,
    private readonly maxMessageSize: number,
  ) {}

  /** Full names of the services the file (and its imports) declares. */
  get serviceNames(): string[] {
    const out: string[] = [];
    const walk = (ns: protobuf.NamespaceBase): void => {
      for (const child of ns.nestedArray) {
        if (child instanceof protobuf.Service) out.push(child.fullName.slice(1));
        else if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) walk(child);
      }
    };
    walk(this.root);
    return out;
  }

  /** The service by full name; throws `PLEXUS_ERR_PROTOBUF_SERVICE_NOT_FOUND` when the file has none. */
  service(name: string): ProtoService {
    let s = this.services.get(name);
    if (s !== undefined) return s;
    let found: protobuf.ReflectionObject | null = null;
    try {
      found = this.root.lookup(name);
    } catch {
      found = null;
    }
    if (!(found instanceof protobuf.Service)) throw ProtobufErrors.SERVICE_NOT_FOUND(name, this.file, this.serviceNames.join(', ') || '(none)');
    s = new ProtoService(name, found, this.maxMessageSize);
    this.services.set(name, s);
    return s;
  }
}

const cache = new Map<string, ProtoFile>();

/**
 * Loads a `.proto` file (parsed once per process and options; later calls share it). Field names
 * are kept as written (`keepCase`). A syntax error, a missing import or an unresolved type throws
 * `PLEXUS_ERR_PROTOBUF_PARSE` naming the file and, for syntax errors, the line.
 */
export function loadProto(file: string, options: ProtoOptions = {}): ProtoFile {
  const absolute = path.resolve(file);
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const includeDirs = (options.includeDirs ?? []).map((d) => path.resolve(d));
  const key = `${absolute}\0${maxMessageSize}\0${includeDirs.join('\0')}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    const candidates = [path.resolve(path.dirname(origin), target), ...includeDirs.map((d) => path.join(d, target))];
    for (const c of candidates) if (protobuf.util.fs?.existsSync?.(c)) return c;
    return candidates[0];
  };
  try {
    root.loadSync(absolute, { keepCase: true });
    root.resolveAll();
  } catch (err) {
    const e = err as Error & { code?: string; path?: string };
    // protobufjs names the file in its parse errors: the path is said once, up front.
    const detail = e.code === 'ENOENT' ? `no such file ${e.path ?? ''}`.trim() : e.message.replace(`(${absolute}, `, '(');
    throw ProtobufErrors.PARSE(absolute, detail);
  }
  const loaded = new ProtoFile(absolute, root, maxMessageSize);
  cache.set(key, loaded);
  return loaded;
}
