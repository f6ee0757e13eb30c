'use strict';
/**
 * The `zone` load balancer: calls go to providers whose URL says `zone.name=<the caller's zone>`;
 * only when none of those is listed (or all were tried) do they spill over to the rest. Inside
 * the chosen set the built-in `random` balancer picks, so weights and warmup still count.
 *
 * Scope: one instance per reference (the kernel's rule for load balancers). Synchronous, no I/O.
 */
const { definePlugin } = require('@plexus/kernel/spi');

/** The URL parameter a provider's zone travels in (set by `zone.name: eu` on the service). */
const ZONE_PARAM = 'zone.name';

class ZoneLoadBalance {
  /**
   * @param {string} zone the caller's zone
   * @param {{ select(invokers: readonly unknown[], invocation: unknown): unknown }} inner the balancer used inside a zone
   */
  constructor(zone, inner) {
    this.zone = zone;
    this.inner = inner;
  }

  select(invokers, invocation) {
    // Filtering allocates a small array per call; a production balancer would cache it per list
    // (the kernel hands the same array until the provider list changes).
    const near = invokers.filter((invoker) => invoker.url.params[ZONE_PARAM] === this.zone);
    return this.inner.select(near.length > 0 ? near : invokers, invocation);
  }
}

module.exports = definePlugin({
  name: 'plexus-loadbalance-zone',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'loadbalance',
      name: 'zone',
      // Checked by the kernel at start(): `extensions.loadbalance.zone.prefer` must be a non-empty
      // string, and nothing else may stand there.
      optionsSchema: {
        type: 'object',
        properties: { prefer: { type: 'string', minLength: 1, description: "the caller's zone" } },
        required: ['prefer'],
        additionalProperties: false,
      },
      create: (ctx) => new ZoneLoadBalance(ctx.options.prefer, ctx.resolve('loadbalance', 'random')),
    },
  ],
});
module.exports.ZoneLoadBalance = ZoneLoadBalance;
