export { RpcStream, isAsyncIterable, streamArgIndex, streamArgError, streamClosedError, type StreamWaiter } from './rpc-stream';
export { InboundStream, DEFAULT_STREAM_WINDOW, type InboundStreamHooks } from './inbound-stream';
export { SourceStream, openProviderStream } from './source-stream';
export { StreamPump, type StreamSink } from './stream-pump';
export { DeferredStream } from './deferred-stream';
