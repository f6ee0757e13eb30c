import { RpcCode, RpcError } from '../errors/rpc-error';
import { isAsyncIterable } from './rpc-stream';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The `AsyncIterable` a proxy hands back at once for a method declared `stream: true` (and for
 * `$stream`): the call starts when the method is called — inside the caller's
 * `Plexus.withCallOptions`, so its timeout, signal and attachments apply — and the items are read
 * from the stream the call resolves to. A call that fails rejects the first `next()`; `break`
 * before the answer arrived closes the stream as soon as it does.
 */
export class DeferredStream<T = unknown> implements AsyncIterableIterator<T> {
  private inner: AsyncIterator<T> | undefined;
  private readonly opening: Promise<AsyncIterator<T>>;
  private closed = false;

  constructor(call: Promise<unknown>, what: string) {
    this.opening = call.then((value) => {
      if (!isAsyncIterable(value)) {
        throw new RpcError(
          `${what} is declared as a stream (stream: true), but the provider answered with a single value` +
            '\n  hint: remove stream: true from this method (or call it with $invoke), or make the provider method return an AsyncIterable.',
          RpcCode.BAD_RESPONSE,
          { reason: 'PLEXUS_ERR_STREAM_NOT_A_STREAM' },
        );
      }
      const inner = (value as AsyncIterable<T>)[Symbol.asyncIterator]();
      this.inner = inner;
      if (this.closed) void Promise.resolve(inner.return?.()).catch(() => undefined);
      return inner;
    });
    // Nobody may ever read it: its failure surfaces on next(), never as an unhandled rejection.
    this.opening.catch(() => undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.closed) return Promise.resolve(DONE);
    const inner = this.inner;
    if (inner !== undefined) return inner.next();
    return this.opening.then((it) => it.next());
  }

  return(): Promise<IteratorResult<T>> {
    if (this.closed) return Promise.resolve(DONE);
    this.closed = true;
    const inner = this.inner;
    if (inner !== undefined && typeof inner.return === 'function') return inner.return().then(() => DONE, () => DONE);
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(err);
  }
}
