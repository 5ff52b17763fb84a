import { createHash } from 'node:crypto';
import { Overrides, setting } from '../config';
import { ConfigError } from '../errors';

/** read: query the API; operator: change controls (implies read); ingest: publish cost events over HTTP (implies nothing else). */
export type Scope = 'read' | 'operator' | 'ingest';
export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  /** First 12 hex digits of the token's SHA-256: names the token in logs and the audit trail, reveals nothing of it. */
  tokenId: string;
}
/** Tokens are kept only as SHA-256 digests; a lookup by digest does not leak timing about the token. */
export type TokenTable = ReadonlyMap<string, Principal>;

const SCOPES: readonly Scope[] = ['read', 'operator', 'ingest'];

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** What logs may say about a presented token: a prefix of its SHA-256, never the token. */
export const tokenId = (token: string): string => digest(token).slice(0, 12);

function withImplied(scopes: Scope[]): Set<Scope> {
  const set = new Set(scopes);
  if (set.has('operator')) set.add('read');
  return set;
}

/**
 * Reads API_TOKENS (JSON array of {token, scopes, name?}) plus API_READ_TOKENS,
 * API_OPERATOR_TOKENS and API_INGEST_TOKENS (comma lists). Operator implies read. The query API
 * and HTTP ingest read the same table, each route asking for its scope. No tokens at all means every
 * authenticated endpoint answers 401 (fail closed).
 */
export function parseTokens(overrides: Overrides = {}): TokenTable {
  const table = new Map<string, Principal>();
  const add = (token: string, scopes: Scope[], name: string) => {
    if (token.length < 8) throw new ConfigError(`API token "${name}" is shorter than 8 characters; use a long random token`);
    table.set(digest(token), { name, scopes: withImplied(scopes), tokenId: digest(token).slice(0, 12) });
  };
  const json = setting('API_TOKENS', overrides).trim();
  if (json) {
    let entries: unknown;
    try {
      entries = JSON.parse(json);
    } catch (err) {
      // JSON.parse quotes the text around the fault, which is a token: say only where it is.
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      throw new ConfigError(`API_TOKENS is not valid JSON${at ? ` (syntax error at character ${at})` : ''}; expected [{"token":"…","scopes":["read"],"name":"who"}]`);
    }
    if (!Array.isArray(entries)) throw new ConfigError('API_TOKENS must be a JSON array of {"token","scopes","name"} objects');
    entries.forEach((e, i) => {
      const entry = e as { token?: unknown; scopes?: unknown; name?: unknown };
      if (typeof entry.token !== 'string') throw new ConfigError(`API_TOKENS[${i}].token must be a string`);
      if (!Array.isArray(entry.scopes) || !entry.scopes.length || !entry.scopes.every((s) => SCOPES.includes(s as Scope))) {
        throw new ConfigError(`API_TOKENS[${i}].scopes must be a non-empty array of ${SCOPES.join(', ')}`);
      }
      add(entry.token, entry.scopes as Scope[], typeof entry.name === 'string' ? entry.name : `token-${i}`);
    });
  }
  const list = (name: 'API_READ_TOKENS' | 'API_OPERATOR_TOKENS' | 'API_INGEST_TOKENS') => setting(name, overrides).split(',').map((s) => s.trim()).filter(Boolean);
  list('API_READ_TOKENS').forEach((t, i) => add(t, ['read'], `read-${i}`));
  list('API_OPERATOR_TOKENS').forEach((t, i) => add(t, ['operator'], `operator-${i}`));
  list('API_INGEST_TOKENS').forEach((t, i) => add(t, ['ingest'], `ingest-${i}`));
  return table;
}

export type AuthOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403; message: string; reason: 'missing' | 'malformed' | 'unknown_token' | 'missing_scope'; tokenId: string | null };

/** 401: no or unknown credentials. 403: a known token without the scope the route needs. */
export function authorize(header: string | undefined, tokens: TokenTable, needed: Scope): AuthOutcome {
  if (!header) return { ok: false, status: 401, reason: 'missing', tokenId: null, message: 'missing Authorization header; send "Authorization: Bearer <token>"' };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, status: 401, reason: 'malformed', tokenId: null, message: 'Authorization header must be "Bearer <token>"' };
  const principal = tokens.get(digest(m[1]));
  if (!principal) return { ok: false, status: 401, reason: 'unknown_token', tokenId: tokenId(m[1]), message: 'unknown bearer token' };
  if (!principal.scopes.has(needed)) return { ok: false, status: 403, reason: 'missing_scope', tokenId: principal.tokenId, message: `this token lacks the "${needed}" scope this endpoint requires` };
  return { ok: true, principal };
}

/** The principal a request's bearer token names, if any (for rate-limit keys; no scope check). */
export function principalOf(header: string | undefined, tokens: TokenTable): Principal | undefined {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m ? tokens.get(digest(m[1])) : undefined;
}
