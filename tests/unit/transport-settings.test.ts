import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registryTarget } from '../../src/avro/registry-auth';
import { secretSetting } from '../../src/config/files';
import { ConfigError } from '../../src/errors';
import { kafkaSecurity } from '../../src/kafka/security';
import { postgresSsl } from '../../src/db/ssl';
import { redisTls } from '../../src/redis/tls';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-transport-unit-'));
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const ca = file('ca.pem', PEM);
const cert = file('client.pem', PEM);
const key = file('client.key', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
const passwordFile = file('password', 's3cret-from-file\n');

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const configError = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('Kafka security settings (kafkaSecurity, used by createKafka for every client)', () => {
  const scram = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD_FILE: passwordFile } as const;

  it('is plaintext with no options by default (the local stack)', () => {
    expect(kafkaSecurity({})).toEqual({});
  });

  it('builds TLS and SASL options from files: CA, client certificate, key, server name, password file', () => {
    const s = kafkaSecurity({ ...scram, KAFKA_SSL_CA_FILE: ca, KAFKA_SSL_CERT_FILE: cert, KAFKA_SSL_KEY_FILE: key, KAFKA_SSL_SERVERNAME: 'kafka.internal' });
    expect(s.ssl).toEqual({ rejectUnauthorized: true, ca: PEM, cert: PEM, key: expect.stringContaining('PRIVATE KEY'), servername: 'kafka.internal' });
    expect(s.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 's3cret-from-file' });
    expect(kafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SSL' }).ssl).toEqual({ rejectUnauthorized: true });
    expect(kafkaSecurity({ ...scram, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'plain' })).toEqual({ sasl: { mechanism: 'plain', username: 'svc', password: 's3cret-from-file' } });
    const noNameCheck = kafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CHECK_HOSTNAME: 'false' }).ssl!;
    expect(noNameCheck.rejectUnauthorized).toBe(true);
    expect(noNameCheck.checkServerIdentity?.('x', {} as never)).toBeUndefined();
  });

  it('refuses settings that would be silently ignored, naming the fix', () => {
    expect(configError(() => kafkaSecurity({ KAFKA_SSL_CA_FILE: ca })).message).toMatch(/KAFKA_SSL_CA_FILE set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS; set KAFKA_SECURITY_PROTOCOL=SSL/);
    expect(configError(() => kafkaSecurity({ KAFKA_SASL_USERNAME: 'svc' })).message).toMatch(/KAFKA_SASL_USERNAME set but .* does not use SASL; set KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT/);
    expect(configError(() => kafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_PASSWORD: 'x' })).message).toMatch(/set KAFKA_SECURITY_PROTOCOL=SASL_SSL/);
    expect(configError(() => kafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SSL_KEY_PASSWORD: 'x' })).message).toMatch(/KAFKA_SSL_KEY_PASSWORD set but .* does not use TLS; set KAFKA_SECURITY_PROTOCOL=SASL_SSL/);
    expect(configError(() => kafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'TLS' })).message).toMatch(/not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/);
  });

  it('refuses incomplete SASL and TLS settings, naming the fix', () => {
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SASL_MECHANISM: 'GSSAPI' })).message).toMatch(/KAFKA_SASL_MECHANISM="GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/);
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SASL_MECHANISM: '' })).message).toMatch(/needs one/);
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SASL_USERNAME: '' })).message).toMatch(/KAFKA_SASL_USERNAME is empty/);
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SASL_PASSWORD_FILE: '' })).message).toMatch(/set KAFKA_SASL_PASSWORD_FILE to a file/);
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SSL_CERT_FILE: cert })).message).toMatch(/KAFKA_SSL_CERT_FILE is set but KAFKA_SSL_KEY_FILE is not/);
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SSL_CA_FILE: path.join(dir, 'missing.pem') })).message).toMatch(/KAFKA_SSL_CA_FILE=.*missing\.pem cannot be read \(ENOENT\)/);
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SSL_CA_FILE: passwordFile })).message).toMatch(/is not a PEM file/);
    expect(configError(() => kafkaSecurity({ ...scram, KAFKA_SSL_CHECK_HOSTNAME: 'no' })).message).toMatch(/KAFKA_SSL_CHECK_HOSTNAME="no" is not one of true, false/);
  });

  it('never puts the password in an error', () => {
    const err = configError(() => kafkaSecurity({ ...scram, KAFKA_SASL_PASSWORD: 'hunter2-direct' }));
    expect(err.message).toMatch(/KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set; keep one/);
    expect(err.message).not.toContain('hunter2');
  });
});

describe('secretSetting', () => {
  it('reads NAME, or the file NAME_FILE names (one trailing newline dropped)', () => {
    expect(secretSetting('KAFKA_SASL_PASSWORD', { KAFKA_SASL_PASSWORD: 'direct' })).toBe('direct');
    expect(secretSetting('KAFKA_SASL_PASSWORD', { KAFKA_SASL_PASSWORD_FILE: passwordFile })).toBe('s3cret-from-file');
    expect(secretSetting('SCHEMA_REGISTRY_PASSWORD', {})).toBe('');
  });
});

describe('registry credentials (registryTarget, used by AvroCodec and the readiness check)', () => {
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  it('moves user:pass@ out of the URL into a Basic authorization header', () => {
    const t = registryTarget('https://reg%40user:p%3Ass@registry.example.com/apis/ccompat/v7');
    expect(t).toEqual({ baseUrl: 'https://registry.example.com/apis/ccompat/v7', displayUrl: 'https://registry.example.com/apis/ccompat/v7', headers: { authorization: basic('reg@user', 'p:ss') } });
  });

  it('takes SCHEMA_REGISTRY_USERNAME / _PASSWORD(_FILE) instead, and sends nothing without credentials', () => {
    expect(registryTarget('http://r:8080/apis/ccompat/v7/', { SCHEMA_REGISTRY_USERNAME: 'u', SCHEMA_REGISTRY_PASSWORD_FILE: passwordFile }).headers).toEqual({ authorization: basic('u', 's3cret-from-file') });
    expect(registryTarget('http://r:8080/apis/ccompat/v7')).toEqual({ baseUrl: 'http://r:8080/apis/ccompat/v7', displayUrl: 'http://r:8080/apis/ccompat/v7', headers: {} });
  });

  it('refuses ambiguous or half credentials and a non-URL, without echoing the password', () => {
    expect(configError(() => registryTarget('https://u:secret-in-url@r/x', { SCHEMA_REGISTRY_USERNAME: 'v', SCHEMA_REGISTRY_PASSWORD: 'w' })).message).toMatch(/keep one of the two/);
    expect(configError(() => registryTarget('https://r/x', { SCHEMA_REGISTRY_USERNAME: 'v' })).message).toMatch(/need both a user and a password/);
    const notUrl = configError(() => registryTarget('u:secret-in-url@registry'));
    expect(notUrl.message).toMatch(/is not an http\(s\) URL/);
    expect(configError(() => registryTarget('http//u:secret-in-url@registry')).message).not.toContain('secret-in-url');
    expect(notUrl.message).not.toContain('secret-in-url');
  });
});

describe('Postgres TLS settings (postgresSsl, used by createPool)', () => {
  const url = 'postgres://u@db.example.com:5432/finops';
  it('leaves TLS to DATABASE_URL when no setting is given', () => {
    expect(postgresSsl({ DATABASE_URL: url })).toBeUndefined();
    expect(postgresSsl({ DATABASE_URL: `${url}?sslmode=verify-full` })).toBeUndefined();
  });

  it('maps the modes with libpq meanings', () => {
    expect(postgresSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'disable' })).toBe(false);
    expect(postgresSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'require' })).toEqual({ rejectUnauthorized: false });
    expect(postgresSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: ca })).toEqual({ rejectUnauthorized: true, ca: PEM });
    const verifyCa = postgresSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'verify-ca', DATABASE_SSL_CA_FILE: ca, DATABASE_SSL_CERT_FILE: cert, DATABASE_SSL_KEY_FILE: key }) as Record<string, unknown>;
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true, ca: PEM, cert: PEM });
    expect(typeof verifyCa.checkServerIdentity).toBe('function');
    const requireWithCa = postgresSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'require', DATABASE_SSL_CA_FILE: ca }) as Record<string, unknown>;
    expect(requireWithCa).toMatchObject({ rejectUnauthorized: true, ca: PEM });
  });

  it('refuses ambiguous or incomplete settings, naming the fix', () => {
    expect(configError(() => postgresSsl({ DATABASE_URL: `${url}?sslmode=require`, DATABASE_SSL_MODE: 'verify-full' })).message).toMatch(/DATABASE_URL carries sslmode and DATABASE_SSL_MODE is set too; keep one/);
    expect(configError(() => postgresSsl({ DATABASE_URL: url, DATABASE_SSL_CA_FILE: ca })).message).toMatch(/set DATABASE_SSL_MODE=verify-full/);
    expect(configError(() => postgresSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'verify-ca' })).message).toMatch(/verify-ca needs DATABASE_SSL_CA_FILE/);
    expect(configError(() => postgresSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'prefer' })).message).toMatch(/not one of .*disable, require, verify-ca, verify-full/);
  });
});

describe('Redis TLS settings (redisTls, spread into every Redis client)', () => {
  it('is off for redis://, on for rediss:// with the CA and client certificate files', () => {
    expect(redisTls({ REDIS_URL: 'redis://r:6379' })).toEqual({});
    expect(redisTls({ REDIS_URL: 'rediss://r:6380' })).toEqual({ tls: { rejectUnauthorized: true } });
    expect(redisTls({ REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA_FILE: ca, REDIS_TLS_CERT_FILE: cert, REDIS_TLS_KEY_FILE: key })).toEqual({ tls: { rejectUnauthorized: true, ca: PEM, cert: PEM, key: expect.any(String) } });
  });

  it('refuses TLS files with a plaintext URL', () => {
    expect(configError(() => redisTls({ REDIS_URL: 'redis://r:6379', REDIS_TLS_CA_FILE: ca })).message).toMatch(/write REDIS_URL as rediss:\/\//);
  });
});
