import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { errorResponses } from '../context';
import { MAX_PAGE_LIMIT } from '../settings';
import { notFound } from '../../src/http/http-errors';
import { postBreakdown, postSummary } from '../queries/post-costs';
import { decodeCursor, parseLimit } from '../validation';

const POST_PARAMS = {
  type: 'object',
  required: ['post_id'],
  properties: { post_id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export function postCostRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { post_id: string }; Querystring: { limit?: string; cursor?: string } }>(
    '/costs/post/:post_id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'What a post cost, by cost type, with attribution confidence and its audit trail (paginated)',
        tags: ['costs'],
        params: POST_PARAMS,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'string', description: `audit-trail page size, 1–${MAX_PAGE_LIMIT}` },
            cursor: { type: 'string', description: 'next_cursor of the previous page' },
          },
        },
        response: { 200: { description: 'post breakdown; amounts are exact USD decimal strings', type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { post_id: postId } = req.params;
      const limit = parseLimit(req.query.limit, ctx.config.defaultPageLimit, MAX_PAGE_LIMIT);
      const cursor = req.query.cursor === undefined ? null : decodeCursor(req.query.cursor, ctx.config.cursors, postId);
      const keys = ctx.cache.layout;
      const { body, outcome } = await ctx.cache.getOrLoad(keys.entry('post', postId, 'b', String(limit), req.query.cursor ?? ''), keys.postVersion(postId), async () => {
        const result = await postBreakdown(ctx.pool, postId, limit, cursor, ctx.config.cursors);
        return result && JSON.stringify(result);
      });
      if (body === null) throw notFound(`no costs recorded for post ${JSON.stringify(postId)}`);
      return reply.type('application/json; charset=utf-8').header('x-cache', outcome).send(body);
    },
  );

  app.get<{ Params: { post_id: string } }>(
    '/costs/post/:post_id/summary',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Total, primary cost type and efficiency rating against the target cost per post',
        tags: ['costs'],
        params: POST_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { description: 'post summary', type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { post_id: postId } = req.params;
      const keys = ctx.cache.layout;
      const { body, outcome } = await ctx.cache.getOrLoad(keys.entry('post', postId, 's'), keys.postVersion(postId), async () => {
        const result = await postSummary(ctx.pool, postId, ctx.config.targetCostPerPostNano);
        return result && JSON.stringify(result);
      });
      if (body === null) throw notFound(`no costs recorded for post ${JSON.stringify(postId)}`);
      return reply.type('application/json; charset=utf-8').header('x-cache', outcome).send(body);
    },
  );
}
