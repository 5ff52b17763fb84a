import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CONTROL_LEVELS, type ControlLevel, type ControlState } from '../../src/contracts/controls';
import { logger } from '../../src/logging';
import type { ApiContext } from '../context';
import { actorOf, errorResponses } from '../context';
import { ApiError } from '../../src/http/http-errors';
import { AuditAction, appendAudit } from '../queries/audit';

const log = logger('api-controls');
const PERSONA_PARAMS = { type: 'object', required: ['persona_id'], properties: { persona_id: { type: 'string', minLength: 1, maxLength: 256 } } } as const;

function admin(ctx: ApiContext) {
  if (!ctx.controls) throw new ApiError(503, 'controls_unavailable', 'the circuit-breaker control admin is not available in this deployment', { retryAfterSeconds: ctx.config.retryAfterSeconds });
  return ctx.controls;
}

/**
 * Runs an operator action on the breaker and appends it to the audit log with the control before
 * and after. The breaker has already made and recorded the transition (control_transitions) when
 * the append runs; if the append fails the action stands, and the failure is logged as an error.
 */
async function audited(ctx: ApiContext, req: FastifyRequest, action: AuditAction, personaId: string, act: () => Promise<ControlState>): Promise<ControlState> {
  const before = await admin(ctx).get(personaId);
  const after = await act();
  await appendAudit(ctx.pool, actorOf(req), { action, personaId, target: 'control', before, after }).catch((err: Error) =>
    log.error({ err: err.message, action, persona: personaId, reqId: req.id }, 'operator action done but not appended to api_audit_log'),
  );
  return after;
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
        summary: 'Operator override: return the persona to normal now (audited here and by the breaker, and published)',
        tags: ['controls'],
        params: PERSONA_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1000 } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (req) => {
      const persona = req.params.persona_id;
      const actor = actorOf(req).name;
      const control = await audited(ctx, req, 'control.resume', persona, () => admin(ctx).resume(persona, actor, req.body?.reason ?? `manual resume via API by ${actor}`));
      return { control };
    },
  );

  app.post<{ Params: { persona_id: string }; Body: { level: ControlLevel; reason: string } }>(
    '/controls/:persona_id/override',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Operator override: hold the persona at a level until resumed (audited here and by the breaker, and published)',
        tags: ['controls'],
        params: PERSONA_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['level', 'reason'],
          properties: { level: { type: 'string', enum: [...CONTROL_LEVELS] }, reason: { type: 'string', minLength: 1, maxLength: 1000 } },
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (req) => {
      const a = admin(ctx);
      if (!a.override) throw new ApiError(503, 'controls_unavailable', 'this control admin cannot override levels', { retryAfterSeconds: ctx.config.retryAfterSeconds });
      const persona = req.params.persona_id;
      const control = await audited(ctx, req, 'control.override', persona, () => a.override!(persona, req.body.level, actorOf(req).name, req.body.reason));
      return { control };
    },
  );
}
