import type { Invocation } from '../src/spi/invocation';
import type { Invoker } from '../src/spi/invoker';
import type { Router } from '../src/spi/router';
import { fakeInvocation, fakeInvoker, routerContract } from '../src/testing';

/** Keeps providers whose `tag` param equals the call's `tag` attachment; untagged calls keep all. */
class TagRouter implements Router {
  readonly priority = 10;
  route(invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[] {
    const tag = invocation.attachments.tag;
    if (!tag) return invokers;
    return invokers.filter((i) => i.url.params.tag === tag);
  }
}

routerContract('tag (example)', () => new TagRouter());

describe('the example tag router', () => {
  it('keeps the tagged providers for a tagged call', () => {
    const a = fakeInvoker('plexus://10.0.0.1:20880/demo.Greeter?tag=a');
    const b = fakeInvoker('plexus://10.0.0.2:20880/demo.Greeter?tag=b');
    const router = new TagRouter();
    expect(router.route([a, b], fakeInvocation({ attachments: { tag: 'a' } }))).toEqual([a]);
    expect(router.route([a, b], fakeInvocation())).toEqual([a, b]);
  });
});
