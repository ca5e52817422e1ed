// Address leases through the REST API (SPEC L1): the lease table as this node holds it and each pool's free, leased
// and cooling counts. Owns: those routes (read only: leases are made by queries, ended by expiry).
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { AUTH_ERRORS } from './schemas.js';

export function leaseRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/leases', {
    config: { role: 'read' },
    schema: {
      tags: ['operations'], summary: 'Address leases',
      description: 'Role: read. Every public address leased now (name, server, private address, expiry and remaining TTL, requests, bytes and open connections through the forwarder) and each pool\'s free/leased/cooling counts, now and every 10 s over the last hour (`history`).',
      response: { 200: { type: 'object', additionalProperties: true }, ...AUTH_ERRORS },
    },
  }, async () => {
    const book = ctx.sup.leases();
    return { leases: book?.list() ?? [], pools: book?.counts() ?? [], history: book?.history() ?? { step: 10, pools: {} } };
  });
}
