import { authorize, parseTokens } from '../../src/http/auth';
import { findControlCharacter, rejectControlCharacters } from '../../api/control-characters';
import { CursorSigner } from '../../api/cursor';
import { RouteTable, toApiError } from '../../src/http/errors-handler';
import { ApiError } from '../../src/http/http-errors';
import { decodeAuditCursor, decodeCursor, encodeAuditCursor, encodeCursor, parseInstant } from '../../api/validation';
import { dependencyFault, isDataError, isTransientFault } from '../../src/dependency-faults';
import { DependencyError, InvalidInputError } from '../../src/errors';
import { retry } from '../../src/retry';

const thrown = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('no error');
};
const pgError = (code: string) => Object.assign(new Error('db says no'), { code, severity: 'ERROR' });
const opts = { retryAfterSeconds: 5, bodyLimitBytes: 16384 };

describe('control characters', () => {
  it('names the location and field of the first NUL or control character, escaped', () => {
    expect(findControlCharacter({ a: 'ok', b: ['x', 'y\u0000z'] })).toEqual({ field: 'b.1', codePoint: 'U+0000', index: 1 });
    expect(findControlCharacter({ ['k\u001b']: 'v' })).toMatchObject({ field: 'k\\u001b', codePoint: 'U+001B' });
    expect(findControlCharacter({ reason: 'tab\there' })).toMatchObject({ codePoint: 'U+0009' });
    expect(findControlCharacter({ c1: 'a\u0085' })).toMatchObject({ codePoint: 'U+0085' });
    expect(findControlCharacter({ ok: 'émoji 🎉 – ünïcode', n: 5, nested: { deep: 'fine' } })).toBeNull();
    const e = thrown(() => rejectControlCharacters([['query parameter', { persona_id: 'a\u0000b' }]]));
    expect(e).toMatchObject({ statusCode: 400, code: 'control_character' });
    expect(e.message).toBe('query parameter "persona_id" contains a control character (U+0000 at position 1); ids and text must not contain NUL or other control characters');
  });
});

describe('cursors', () => {
  const signer = CursorSigner.withKey('unit-test-cursor-key-0123456789abcdef');
  const forged = (fields: unknown[]) => Buffer.from(JSON.stringify(fields)).toString('base64url');

  it('accept only what this key signed for this scope', () => {
    const c = encodeCursor({ timeMicros: '1754000000123456', eventId: 'e-1' }, signer, 'post-1');
    expect(decodeCursor(c, signer, 'post-1')).toEqual({ timeMicros: '1754000000123456', eventId: 'e-1' });
    expect(thrown(() => decodeCursor(c, signer, 'post-2')).code).toBe('invalid_cursor'); // another post
    expect(thrown(() => decodeCursor(c, CursorSigner.withKey('another-key-0123456789abcdef012345'), 'post-1')).code).toBe('invalid_cursor');
    expect(thrown(() => decodeCursor(forged(['99999999999999999', 'e']), signer, 'post-1')).code).toBe('invalid_cursor'); // the old unsigned format
    const [payload, mac] = c.split('.');
    expect(thrown(() => decodeCursor(`${forged(['1', 'e-1'])}.${mac}`, signer, 'post-1')).code).toBe('invalid_cursor'); // payload swapped
    expect(thrown(() => decodeCursor(`${payload}.${mac.slice(0, -1)}A`, signer, 'post-1')).code).toBe('invalid_cursor');
    expect(thrown(() => decodeCursor('x'.repeat(5000), signer, 'post-1')).code).toBe('invalid_cursor');
  });

  it('validate the position even when the signature holds', () => {
    for (const [t, id] of [['9223372036854775807', 'e'], ['253402300800000000', 'e'], ['-62135596800000001', 'e'], ['1e5', 'e'], ['1', ''], ['1', 'a\u0000b'], ['1', 'x'.repeat(257)]]) {
      expect(thrown(() => decodeCursor(signer.sign('post:p', [t, id]), signer, 'p')).code).toBe('invalid_cursor');
    }
    expect(decodeAuditCursor(encodeAuditCursor('42', signer), signer)).toBe('42');
    expect(thrown(() => decodeAuditCursor(signer.sign('audit', ['9223372036854775808']), signer)).code).toBe('invalid_cursor');
    expect(thrown(() => decodeAuditCursor(signer.sign('post:p', ['1']), signer)).code).toBe('invalid_cursor');
  });

  it('derive one key from the tokens on every replica, or take API_CURSOR_SECRET', () => {
    const a = CursorSigner.fromSettings('', ['d1', 'd2']);
    const b = CursorSigner.fromSettings('', ['d2', 'd1']);
    expect(b.verify('audit', a.sign('audit', ['1']), 1)).toEqual(['1']);
    expect(a.keySource).toBe('tokens');
    expect(() => CursorSigner.fromSettings('short', [])).toThrow(/API_CURSOR_SECRET is shorter than 32/);
    expect(CursorSigner.fromSettings('s'.repeat(32), []).keySource).toBe('API_CURSOR_SECRET');
  });
});

describe('error model', () => {
  it('maps Postgres data errors to 400 and dependency faults to 503 with Retry-After', () => {
    expect(toApiError(pgError('22021') as never, opts)).toMatchObject({ statusCode: 400, code: 'invalid_input' });
    expect(toApiError(pgError('22003') as never, opts)).toMatchObject({ statusCode: 400, code: 'invalid_input' });
    expect(toApiError(pgError('22008') as never, opts)!.message).not.toMatch(/db says no/);
    expect(toApiError(pgError('57P01') as never, opts)).toMatchObject({ statusCode: 503, code: 'dependency_unavailable', retryAfterSeconds: 5 });
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.'), { name: 'MaxRetriesPerRequestError' });
    expect(toApiError(maxRetries as never, opts)).toMatchObject({ statusCode: 503, code: 'dependency_unavailable', message: expect.stringMatching(/^redis is unavailable/) });
    expect(toApiError(new Error('Connection is closed.') as never, opts)).toMatchObject({ statusCode: 503 });
    expect(toApiError(new Error('timeout exceeded when trying to connect') as never, opts)).toMatchObject({ statusCode: 503, message: expect.stringMatching(/^postgres/) });
    expect(toApiError(new TypeError('x is undefined') as never, opts)).toBeNull(); // a bug stays a 500
  });

  it("gives Fastify's own 4xx the documented codes", () => {
    const fst = (code: string, statusCode: number) => Object.assign(new Error('fastify'), { code, statusCode }) as never;
    expect(toApiError(fst('FST_ERR_CTP_INVALID_JSON_BODY', 400), opts)).toMatchObject({ statusCode: 400, code: 'invalid_json' });
    expect(toApiError(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413), opts)).toMatchObject({ statusCode: 413, code: 'body_too_large' });
    expect(toApiError(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), opts)).toMatchObject({ statusCode: 415, code: 'unsupported_media_type' });
    expect(toApiError(fst('FST_ERR_CTP_EMPTY_JSON_BODY', 400), opts)).toMatchObject({ code: 'empty_body' });
    expect(toApiError(fst('SOMETHING_NEW', 406), opts)).toMatchObject({ statusCode: 406, code: 'bad_request' });
  });

  it('tells 405 from 404 by the registered route patterns', () => {
    const t = new RouteTable();
    t.add('GET', '/costs/post/:post_id');
    t.add(['PUT', 'DELETE'], '/budgets/:persona_id/:period');
    expect(t.allowed('/costs/post/abc')).toEqual(['GET']);
    expect(t.allowed('/budgets/a/daily')).toEqual(['PUT', 'DELETE']);
    expect(t.allowed('/costs/post/a/b/c')).toEqual([]);
  });
});

describe('dates at the edges of the calendar', () => {
  it('reads years below 100 as written and refuses instants outside 0001–9999 UTC', () => {
    expect(parseInstant('since', '0001-01-01').toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(parseInstant('since', '0099-12-31T23:00:00Z').toISOString()).toBe('0099-12-31T23:00:00.000Z');
    expect(thrown(() => parseInstant('since', '9999-12-31T23:59:59-14:00')).message).toMatch(/outside years 0001–9999/);
    expect(thrown(() => parseInstant('since', '0001-01-01T00:00:00+14:00')).message).toMatch(/outside years 0001–9999/);
    expect(thrown(() => parseInstant('since', '0000-01-01')).code).toBe('invalid_date');
  });
});

describe('retries', () => {
  it('classify: data errors never retried, passing faults retried', () => {
    expect(isDataError(pgError('22021'))).toBe(true);
    expect(isDataError(new InvalidInputError('x', 'y'))).toBe(true);
    expect(isTransientFault(pgError('22021'))).toBe(false);
    expect(isTransientFault(pgError('23514'))).toBe(false);
    expect(isTransientFault(pgError('08006'))).toBe(true);
    expect(isTransientFault(pgError('40001'))).toBe(true);
    expect(isTransientFault(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientFault(new DependencyError('redis', 'lock held'))).toBe(true);
    expect(isTransientFault(new Error('something else'))).toBe(false);
    expect(dependencyFault(Object.assign(new Error('OOM command not allowed'), { name: 'ReplyError' }))).toBe('redis');
    expect(dependencyFault(Object.assign(new Error('ERR wrong number of arguments'), { name: 'ReplyError' }))).toBeNull();
  });

  it('retry() with isTransientFault gives up on a data error at once', async () => {
    let calls = 0;
    await expect(retry(async () => {
      calls++;
      throw pgError('22021');
    }, { retries: 5, initialDelayMs: 1, shouldRetry: isTransientFault })).rejects.toMatchObject({ code: '22021' });
    expect(calls).toBe(1);
  });
});

describe('tokens', () => {
  it('a malformed API_TOKENS never quotes any part of a token in the error', () => {
    const secret = 'Zq9XvB7wKp3LmN5rT8yH';
    for (const raw of [`[{"token":"${secret}" "scopes":["read"]}]`, `${secret}`, `[{"token":${secret}}]`, `[{'token':'${secret}'}]`]) {
      let message = '';
      try {
        parseTokens({ API_TOKENS: raw });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^API_TOKENS is not valid JSON/);
      for (let i = 0; i + 4 <= secret.length; i++) expect(message).not.toContain(secret.slice(i, i + 4));
    }
  });

  it('failed auth yields a token id (hash prefix), never the token', () => {
    const tokens = parseTokens({ API_READ_TOKENS: 'reader-token-1' });
    const r = authorize('Bearer some-guessed-token', tokens, 'read');
    expect(r).toMatchObject({ ok: false, status: 401, reason: 'unknown_token', tokenId: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(JSON.stringify(r)).not.toContain('some-guessed');
    expect(authorize('Bearer reader-token-1', tokens, 'operator')).toMatchObject({ reason: 'missing_scope' });
  });
});
