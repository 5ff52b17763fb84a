import { startApi, RunningApi } from '../../api';
import type { StartOptions } from '../../api/server';
import { Overrides } from '../../src/config';
import { TestEnv } from '../../testkit/fixtures';

/** Shared by the api*.test.ts files: an API on a free loopback port with test tokens and its own cache prefix. */
export const READ_TOKEN = 'read-token-for-api-tests';
export const OPERATOR_TOKEN = 'operator-token-for-api-tests';

export async function startTestApi(env: TestEnv, extra: Overrides = {}, opts: StartOptions = { controls: null }): Promise<RunningApi> {
  const api = await startApi(
    {
      ...env.overrides,
      API_PORT: 0,
      API_HOST: '127.0.0.1',
      API_TOKENS: JSON.stringify([{ token: READ_TOKEN, scopes: ['read'], name: 'test-reader' }, { token: OPERATOR_TOKEN, scopes: ['operator'], name: 'test-operator' }]),
      API_CACHE_PREFIX: `test:${env.id}:`,
      API_METRICS_PORT: 0,
      ...extra,
    },
    opts,
  );
  env.cleanup(() => api.close());
  return api;
}

export interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

export async function call(api: RunningApi, method: string, path: string, opts: { token?: string | null; body?: unknown } = {}): Promise<Res> {
  const token = opts.token === undefined ? READ_TOKEN : opts.token;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(api.url + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (/metrics)
  }
  return { status: res.status, body, headers: res.headers };
}

export const get = (api: RunningApi, path: string, token?: string | null) => call(api, 'GET', path, { token });

export const today = () => new Date().toISOString().slice(0, 10);
export const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
