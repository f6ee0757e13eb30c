import { context, propagation, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** The official SDK, set up as an application would: spans end in memory, where a test reads them. */
export interface TestSdk {
  exporter: InMemorySpanExporter;
  /** Ended spans named `name` (all when omitted). */
  spans(name?: string): ReadableSpan[];
  /** Unregisters everything it registered. */
  uninstall(): Promise<void>;
}

export function installSdk(options: { contextManager?: boolean } = {}): TestSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  if (options.contextManager !== false) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    spans: (name) => exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name),
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** Whether `child` was started with `parent` as its parent. */
export function isChildOf(child: ReadableSpan, parent: ReadableSpan | SpanContext): boolean {
  const p = 'spanContext' in parent ? parent.spanContext() : parent;
  return child.parentSpanContext?.spanId === p.spanId && child.spanContext().traceId === p.traceId;
}
