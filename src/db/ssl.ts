import type { ConnectionOptions } from 'node:tls';
import { enumSetting, Overrides, setting } from '../config';
import { certificatePair, pemFileSetting } from '../config/files';
import { ConfigError } from '../errors';

export const DATABASE_SSL_MODES = ['', 'disable', 'require', 'verify-ca', 'verify-full'] as const;
const URL_SSL_PARAMS = ['sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey'];

/**
 * node-postgres `ssl` from DATABASE_SSL_MODE and DATABASE_SSL_*_FILE, with libpq's meanings:
 * require encrypts without checking the certificate (with a CA file, it checks the chain, as
 * verify-ca does); verify-ca checks the chain; verify-full checks the chain and the host name.
 * Undefined when no setting is given: DATABASE_URL's own sslmode/sslrootcert (node-postgres reads them)
 * then decide. Settings and URL parameters together are refused, since the URL's would win silently.
 */
export function postgresSsl(overrides: Overrides = {}, connectionString = setting('DATABASE_URL', overrides)): boolean | ConnectionOptions | undefined {
  const mode = enumSetting('DATABASE_SSL_MODE', DATABASE_SSL_MODES, overrides);
  const ca = pemFileSetting('DATABASE_SSL_CA_FILE', overrides);
  const { cert, key } = certificatePair('DATABASE_SSL_CERT_FILE', 'DATABASE_SSL_KEY_FILE', overrides);
  if (!mode) {
    if (ca || cert) throw new ConfigError('DATABASE_SSL_CA_FILE/DATABASE_SSL_CERT_FILE are set but DATABASE_SSL_MODE is not; set DATABASE_SSL_MODE=verify-full (or verify-ca)');
    return undefined;
  }
  const inUrl = urlSslParams(connectionString);
  if (inUrl.length) throw new ConfigError(`DATABASE_URL carries ${inUrl.join(', ')} and DATABASE_SSL_MODE is set too; keep one (remove them from DATABASE_URL, or unset DATABASE_SSL_*)`);
  if (mode === 'disable') {
    if (ca || cert) throw new ConfigError('DATABASE_SSL_MODE=disable with DATABASE_SSL_* files set; set DATABASE_SSL_MODE=verify-full, or clear the files');
    return false;
  }
  if (mode === 'verify-ca' && !ca) throw new ConfigError('DATABASE_SSL_MODE=verify-ca needs DATABASE_SSL_CA_FILE (the CA that signed the server certificate)');
  const files = { ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) };
  if (mode === 'require' && !ca) return { ...files, rejectUnauthorized: false };
  if (mode === 'verify-full') return { ...files, rejectUnauthorized: true };
  return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
}

function urlSslParams(connectionString: string): string[] {
  try {
    const params = new URL(connectionString).searchParams;
    return URL_SSL_PARAMS.filter((p) => params.has(p));
  } catch {
    return [];
  }
}
