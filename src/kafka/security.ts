import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { enumSetting, Overrides, setting } from '../config';
import { certificatePair, pemFileSetting, secretSetting } from '../config/files';
import { ConfigError } from '../errors';

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaSecurity {
  ssl?: ConnectionOptions;
  sasl?: SASLOptions;
}

const TLS_SETTINGS = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_SERVERNAME'] as const;
const SASL_SETTINGS = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME'] as const;

function tlsOptions(overrides: Overrides): ConnectionOptions {
  const ca = pemFileSetting('KAFKA_SSL_CA_FILE', overrides);
  const { cert, key } = certificatePair('KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', overrides);
  const passphrase = secretSetting('KAFKA_SSL_KEY_PASSWORD', overrides);
  const servername = setting('KAFKA_SSL_SERVERNAME', overrides);
  const checkHostname = enumSetting('KAFKA_SSL_CHECK_HOSTNAME', ['true', 'false'] as const, overrides) === 'true';
  // The chain is always verified; only the name check can be turned off (a CA-pinned private cluster).
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert, key } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(servername ? { servername } : {}),
    ...(checkHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

function saslOptions(overrides: Overrides): SASLOptions {
  const raw = setting('KAFKA_SASL_MECHANISM', overrides);
  const mechanism = SASL_MECHANISMS.find((m) => m === raw.toUpperCase());
  if (!mechanism) {
    throw new ConfigError(`KAFKA_SASL_MECHANISM=${JSON.stringify(raw)} is not one of ${SASL_MECHANISMS.join(', ')}; KAFKA_SECURITY_PROTOCOL=${setting('KAFKA_SECURITY_PROTOCOL', overrides)} needs one (SCRAM-SHA-512 unless the brokers only offer another)`);
  }
  const username = setting('KAFKA_SASL_USERNAME', overrides);
  const password = secretSetting('KAFKA_SASL_PASSWORD', overrides);
  if (!username) throw new ConfigError('KAFKA_SASL_USERNAME is empty; SASL needs the user the brokers know this service as');
  if (!password) throw new ConfigError('KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both empty; set KAFKA_SASL_PASSWORD_FILE to a file holding the password (or KAFKA_SASL_PASSWORD)');
  const lower = mechanism.toLowerCase() as 'plain' | 'scram-sha-256' | 'scram-sha-512';
  return { mechanism: lower, username, password } as SASLOptions;
}

/**
 * The `ssl` and `sasl` options of every Kafka client the process makes, from the KAFKA_SECURITY_PROTOCOL
 * and KAFKA_SSL_* / KAFKA_SASL_* settings. A setting that would be ignored under the chosen protocol
 * is a start-up error rather than a silent plaintext connection.
 */
export function kafkaSecurity(overrides: Overrides = {}): KafkaSecurity {
  const protocol = enumSetting('KAFKA_SECURITY_PROTOCOL', SECURITY_PROTOCOLS, overrides);
  const tls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const sasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  if (!tls) {
    const stray = [...TLS_SETTINGS.filter((n) => setting(n, overrides)), ...(secretSetting('KAFKA_SSL_KEY_PASSWORD', overrides) ? ['KAFKA_SSL_KEY_PASSWORD'] : [])];
    if (stray.length) throw new ConfigError(`${stray.join(', ')} set but KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS; set KAFKA_SECURITY_PROTOCOL=${sasl ? 'SASL_SSL' : 'SSL'}, or clear them`);
  }
  if (!sasl) {
    const stray = [...SASL_SETTINGS.filter((n) => setting(n, overrides)), ...(secretSetting('KAFKA_SASL_PASSWORD', overrides) ? ['KAFKA_SASL_PASSWORD'] : [])];
    if (stray.length) throw new ConfigError(`${stray.join(', ')} set but KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL; set KAFKA_SECURITY_PROTOCOL=${tls ? 'SASL_SSL' : 'SASL_PLAINTEXT'}, or clear them`);
  }
  return {
    ...(tls ? { ssl: tlsOptions(overrides) } : {}),
    ...(sasl ? { sasl: saslOptions(overrides) } : {}),
  };
}
