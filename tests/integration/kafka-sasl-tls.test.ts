import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { CostTracker } from '../../producers';
import { Overrides } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { kafkaSecurity } from '../../src/kafka/security';
import { CertificateFiles, makeCertificates } from '../../testkit/certificates';
import { freePort } from '../../testkit/free-port';
import { PrivateKafka } from '../../testkit/private-kafka';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';

/**
 * A private broker with a second listener, SASL_SSL: TLS with a certificate for `kafka.finops.test`
 * only (so the name check matters), client certificates required, and SCRAM-SHA-256/512 and PLAIN.
 * The local stack stays plaintext; SCRAM credentials are written when the broker's storage is formatted.
 */
const SERVER_NAME = 'kafka.finops.test';
const USER = 'finops-pipeline';
const PLAIN_USER = 'finops-plain';
const password = randomBytes(12).toString('hex');
const plainPassword = randomBytes(12).toString('hex');

function brokerConfig(certs: CertificateFiles): string[] {
  const l = 'listener.name.sasl_ssl';
  return [
    `${l}.ssl.keystore.type=PEM`,
    `${l}.ssl.keystore.location=${certs.serverPem}`,
    `${l}.ssl.truststore.type=PEM`,
    `${l}.ssl.truststore.location=${certs.caCert}`,
    `${l}.ssl.client.auth=required`,
    `${l}.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN`,
    `${l}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    `${l}.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    `${l}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${PLAIN_USER}="${plainPassword}";`,
  ];
}

/** SCRAM credentials for USER, written by `kafka-storage format --add-scram` (KRaft). */
const scramFormatArgs = () => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${USER},password=${password}]`]);

/** One TLS handshake with the options createKafka gives kafkajs: resolves, or rejects with Node's reason. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

describe('Kafka over SASL/SCRAM and TLS (second listener on a private broker)', () => {
  let certs: CertificateFiles;
  let broker: PrivateKafka;
  let saslPort: number;
  let secure: Overrides;

  beforeAll(async () => {
    certs = makeCertificates([`DNS:${SERVER_NAME}`]);
    saslPort = await freePort();
    broker = new PrivateKafka({ extraListeners: [`SASL_SSL://127.0.0.1:${saslPort}`], extraProtocolMap: ['SASL_SSL:SASL_SSL'], extraConfig: brokerConfig(certs), formatArgs: scramFormatArgs() });
    await broker.start();
    fs.writeFileSync(path.join(certs.dir, 'sasl-password'), `${password}\n`);
    secure = {
      KAFKA_BROKERS: `127.0.0.1:${saslPort}`,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SSL_CA_FILE: certs.caCert,
      KAFKA_SSL_CERT_FILE: certs.clientCert,
      KAFKA_SSL_KEY_FILE: certs.clientKey,
      KAFKA_SSL_SERVERNAME: SERVER_NAME,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: USER,
      KAFKA_SASL_PASSWORD_FILE: path.join(certs.dir, 'sasl-password'),
    };
  });
  afterAll(async () => {
    await broker?.destroy();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  });

  describe('the SDK and a consumer, end to end', () => {
    let env: TestEnv;
    let tracker: CostTracker;
    beforeAll(async () => {
      // Topics are created by the pipeline's admin client over SCRAM-SHA-512 + TLS.
      env = await createTestEnv('kafkasasl', secure);
      tracker = new CostTracker({ overrides: env.overrides });
      env.cleanup(() => tracker.close());
      // The storage role's consumer signs in with the other SCRAM mechanism.
      await startStorage(env, { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' });
    });
    afterAll(() => env?.close());

    it('CostTracker publishes through SASL_SSL and the storage consumer stores what it published', async () => {
      const persona = `${env.id}-persona`;
      const posts = [`${env.id}-a`, `${env.id}-b`];
      const tracked = await Promise.all(posts.map((postId) => tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, personaId: persona, postId })));
      const stored = await waitFor(async () => {
        const r = await env.pool.query<{ event_id: string }>('SELECT event_id FROM cost_events WHERE persona_id = $1', [persona]);
        return r.rows.length === 2 ? r.rows : undefined;
      }, { what: 'both events stored', timeoutMs: 60_000 });
      expect(stored.map((r) => r.event_id).sort()).toEqual(tracked.map((t) => t.eventId).sort());
    });
  });

  it('PLAIN is accepted too (admin client)', async () => {
    const admin = createKafka({ ...secure, KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: PLAIN_USER, KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: plainPassword }).admin();
    await admin.connect();
    try {
      expect(Array.isArray(await admin.listTopics())).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });

  it('a wrong password is a clear, immediate error for the SDK and for an admin client', async () => {
    const wrong: Overrides = { ...secure, KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: 'not-the-password', TOPIC_COST_EVENTS: `test.saslwrong${password.slice(0, 6)}.cost-events`, TOPIC_POST_OUTCOMES: `test.saslwrong${password.slice(0, 6)}.post-outcomes` };
    const started = Date.now();
    const admin = createKafka(wrong).admin();
    const adminError = await admin.connect().then(() => undefined, (err: Error) => err);
    expect(adminError?.message).toMatch(/SASL SCRAM SHA512 authentication failed.*invalid credentials/i);
    expect(adminError?.message).not.toContain('not-the-password');

    const sdk = new CostTracker({ overrides: wrong });
    const sdkError = await sdk.trackVectorDbCost({ vectorOperation: 'query', units: 1, personaId: 'saslwrong', postId: 'saslwrong' }).then(() => undefined, (err: Error) => err);
    await sdk.close().catch(() => undefined);
    expect(sdkError?.message).toMatch(/authentication failed.*invalid credentials/i);
    // Not retried for half a minute as if the broker were down.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  describe('TLS checks (the handshake kafkajs makes with these options)', () => {
    it('verifies the broker name: the certificate is for kafka.finops.test, not 127.0.0.1', async () => {
      await expect(handshake(saslPort, kafkaSecurity(secure).ssl!)).resolves.toBeUndefined();
      const noName = { ...secure, KAFKA_SSL_SERVERNAME: '' };
      await expect(handshake(saslPort, kafkaSecurity(noName).ssl!)).rejects.toThrow(/does not match certificate's altnames/);
      await expect(handshake(saslPort, kafkaSecurity({ ...noName, KAFKA_SSL_CHECK_HOSTNAME: 'false' }).ssl!)).resolves.toBeUndefined();
    });

    it('refuses a broker certificate its CA did not sign', async () => {
      await expect(handshake(saslPort, kafkaSecurity({ ...secure, KAFKA_SSL_CA_FILE: certs.otherCaCert }).ssl!)).rejects.toThrow(/unable to (get local issuer|verify the first) certificate/);
      // With no CA file the system's CAs are used, which do not know this one either.
      await expect(handshake(saslPort, kafkaSecurity({ ...secure, KAFKA_SSL_CA_FILE: '' }).ssl!)).rejects.toThrow(/unable to (get local issuer|verify the first) certificate/);
    });
  });
});
