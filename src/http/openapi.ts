import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

/** Registers the OpenAPI document of an HTTP role: bearer tokens on every route unless a route says otherwise. */
export async function registerOpenApi(app: FastifyInstance, info: { title: string; description: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { ...info, version: '1.0.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
}
