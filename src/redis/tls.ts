import type { ConnectionOptions } from 'node:tls';
import { Overrides, setting } from '../config';
import { certificatePair, pemFileSetting } from '../config/files';
import { ConfigError } from '../errors';

/**
 * ioredis options for TLS, spread into every Redis client: a `rediss://` REDIS_URL turns TLS on
 * (certificate and host name verified against the system's CAs), REDIS_TLS_CA_FILE adds a private CA
 * and REDIS_TLS_CERT_FILE/KEY_FILE a client certificate (Redis' tls-auth-clients).
 */
export function redisTls(overrides: Overrides = {}, url = setting('REDIS_URL', overrides)): { tls?: ConnectionOptions } {
  const ca = pemFileSetting('REDIS_TLS_CA_FILE', overrides);
  const { cert, key } = certificatePair('REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE', overrides);
  const tls = /^rediss:\/\//i.test(url);
  if (!tls) {
    if (ca || cert) throw new ConfigError('REDIS_TLS_* files are set but REDIS_URL is not rediss://; write REDIS_URL as rediss://host:port to use TLS, or clear them');
    return {};
  }
  return { tls: { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) } };
}
