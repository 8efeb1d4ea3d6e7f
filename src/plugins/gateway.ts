// The gateway (src/gateway/gateway.ts) as the instance's `gateway` decoration, so every route
// reaches the providers through the one owner of a request's trip.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Gateway } from '../gateway/gateway.ts';

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
}

export default fp<{ gateway: Gateway }>(
  async function gatewayPlugin(app: FastifyInstance, { gateway }) {
    app.decorate('gateway', gateway);
    app.decorateRequest('trip', null);
    app.addHook('onClose', async () => {
      await Promise.allSettled(gateway.providers.map((p) => p.close()));
    });
  },
  { name: 'gateway' },
);
