import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { errorResponses } from '../context';
import { ApiError } from '../http-errors';

function admin(ctx: ApiContext) {
  if (!ctx.controls) throw new ApiError(503, 'controls_unavailable', 'the circuit-breaker control admin is not available in this deployment');
  return ctx.controls;
}

export function controlRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/controls',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Controls in force (every persona not at level normal)',
        tags: ['controls'],
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async () => {
      const controls = await admin(ctx).list();
      return { count: controls.length, controls };
    },
  );

  app.post<{ Params: { persona_id: string }; Body: { reason?: string } | undefined }>(
    '/controls/:persona_id/resume',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Operator override: return the persona to normal now (audited and published by the breaker)',
        tags: ['controls'],
        params: { type: 'object', required: ['persona_id'], properties: { persona_id: { type: 'string', minLength: 1, maxLength: 256 } } },
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1000 } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (req) => {
      const actor = req.principal?.name ?? 'unknown';
      const control = await admin(ctx).resume(req.params.persona_id, actor, req.body?.reason ?? `manual resume via API by ${actor}`);
      return { control };
    },
  );
}
