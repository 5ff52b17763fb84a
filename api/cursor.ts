import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../src/errors';
import { badRequest } from '../src/http/http-errors';

/**
 * Pagination cursors are opaque to clients and tamper-proof: `<payload>.<mac>`, where payload is
 * the base64url JSON array of the position and mac the first 16 bytes of HMAC-SHA256 over the
 * route scope (e.g. `post:<id>`, `audit`) and the payload. A cursor is only accepted by the
 * scope that issued it, and only if this key signed it; then its fields are validated again
 * (defence in depth: a leaked key still cannot push an out-of-range value into SQL).
 *
 * The key is API_CURSOR_SECRET (shared by every replica). Without it the key is derived from the
 * configured token digests, which every replica with the same tokens shares: cursors survive
 * restarts and load balancing, and stop working (400 invalid_cursor, start again from the first
 * page) only when the token set changes. A random per-process key would break every cursor that
 * lands on another replica.
 */
export class CursorSigner {
  private constructor(private readonly key: Buffer, readonly keySource: 'API_CURSOR_SECRET' | 'tokens' | 'random') {}

  static fromSettings(secret: string, tokenDigests: readonly string[]): CursorSigner {
    if (secret) {
      if (secret.length < 32) throw new ConfigError('API_CURSOR_SECRET is shorter than 32 characters; set it to a long random value shared by every API replica (e.g. openssl rand -hex 32)');
      return new CursorSigner(Buffer.from(secret, 'utf8'), 'API_CURSOR_SECRET');
    }
    if (!tokenDigests.length) return new CursorSigner(randomBytes(32), 'random'); // no tokens: every route answers 401 anyway
    const key = createHmac('sha256', 'finops-api-cursor-key-v1').update([...tokenDigests].sort().join('\n')).digest();
    return new CursorSigner(key, 'tokens');
  }

  /** For tests: a signer over a known key. */
  static withKey(key: string): CursorSigner {
    return new CursorSigner(Buffer.from(key, 'utf8'), 'API_CURSOR_SECRET');
  }

  private mac(scope: string, payload: string): Buffer {
    return createHmac('sha256', this.key).update(scope).update('\n').update(payload).digest().subarray(0, 16);
  }

  sign(scope: string, fields: readonly string[]): string {
    const payload = Buffer.from(JSON.stringify(fields)).toString('base64url');
    return `${payload}.${this.mac(scope, payload).toString('base64url')}`;
  }

  /** The fields of a cursor this signer issued for `scope`; 400 invalid_cursor otherwise. */
  verify(scope: string, value: string, arity: number): string[] {
    const invalid = () => badRequest('invalid_cursor', 'cursor is not one this API issued for this resource; pass page.next_cursor from the previous page unchanged');
    if (value.length > 1024) throw invalid();
    const m = /^([A-Za-z0-9_-]{1,900})\.([A-Za-z0-9_-]{22})$/.exec(value);
    if (!m) throw invalid();
    const given = Buffer.from(m[2], 'base64url');
    const expected = this.mac(scope, m[1]);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    if (!Array.isArray(fields) || fields.length !== arity || !fields.every((f) => typeof f === 'string')) throw invalid();
    return fields as string[];
  }
}
