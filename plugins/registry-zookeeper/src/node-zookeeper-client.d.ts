/*
 * The part of node-zookeeper-client 1.1.3 this package uses (the driver ships no types). Internal:
 * nothing exported from this package mentions these types.
 */
declare module 'node-zookeeper-client' {
  import type { EventEmitter } from 'node:events';

  export interface Stat {
    /** 8 bytes, big-endian: the session that owns an ephemeral node, zero for a persistent one. */
    ephemeralOwner: Buffer;
    numChildren: number;
    version: number;
  }

  export interface ZkException extends Error {
    getCode(): number;
    getName(): string;
    getPath(): string | undefined;
  }

  export interface WatchEvent {
    getType(): number;
    getName(): string;
    getPath(): string;
  }

  export type Watcher = (event: WatchEvent) => void;

  export interface ClientOptions {
    sessionTimeout?: number;
    spinDelay?: number;
    retries?: number;
    sessionId?: Buffer;
    sessionPassword?: Buffer;
  }

  export interface Client extends EventEmitter {
    connect(): void;
    close(): void;
    getSessionId(): Buffer;
    getSessionPassword(): Buffer;
    getSessionTimeout(): number;
    getState(): { name: string; code: number };
    create(path: string, data: Buffer | null, mode: number, callback: (error: ZkException | null, path?: string) => void): void;
    remove(path: string, version: number, callback: (error: ZkException | null) => void): void;
    exists(path: string, callback: (error: ZkException | null, stat?: Stat | null) => void): void;
    getChildren(path: string, watcher: Watcher | undefined, callback: (error: ZkException | null, children?: string[], stat?: Stat) => void): void;
  }

  export function createClient(connectionString: string, options?: ClientOptions): Client;

  export const CreateMode: { PERSISTENT: number; EPHEMERAL: number };
  export const Event: { NODE_CREATED: number; NODE_DELETED: number; NODE_DATA_CHANGED: number; NODE_CHILDREN_CHANGED: number };
  export const Exception: {
    CONNECTION_LOSS: number;
    OPERATION_TIMEOUT: number;
    SESSION_EXPIRED: number;
    NO_NODE: number;
    NODE_EXISTS: number;
    NOT_EMPTY: number;
    BAD_VERSION: number;
  };
}
