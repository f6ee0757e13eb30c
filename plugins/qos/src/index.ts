import { ADMIN, LOGGER, definePlugin, type Admin, type Logger } from '@plexus/kernel/spi';
import { QosHttpServer, type QosHttpOptions } from './qos-http-server';

/** `@plexus/qos` — the admin HTTP server of DESIGN §11 (live, ready, ls, offline/online, weight, metrics) and the web console. */
export { QosHttpServer, QOS_HTTP_DEFAULTS, type QosHttpOptions } from './qos-http-server';
export { QosHttpErrors } from './errors';
export { consolePage } from './console-page';

const positive = { type: 'integer', minimum: 1 };

export default definePlugin({
  name: '@plexus/qos',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'qos',
      name: 'http',
      optionsSchema: {
        type: 'object',
        properties: {
          maxConnections: positive,
          maxHeaderSize: { type: 'integer', minimum: 1024 },
          maxBodySize: { type: 'integer', minimum: 0 },
          headersTimeout: positive,
          requestTimeout: positive,
        },
        additionalProperties: false,
      },
      create: (ctx) => new QosHttpServer(ctx.inject<Admin>(ADMIN), ctx.inject<Logger>(LOGGER), ctx.options as QosHttpOptions),
    },
  ],
});
