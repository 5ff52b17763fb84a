import http from 'node:http';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { Producer } from 'kafkajs';
import { setting, topics } from '../../src/config';
import { logger } from '../../src/logging';
import { createChannels, Deliverer, Notification } from '../../src/notify';
import { SlackChannel } from '../../src/notify/channels/slack';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { HttpReceiver } from '../../testkit/receivers';

/** Blocks this process's event loop, as a loaded machine or a long GC does. */
const stall = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

describe('src/notify delivery on the real Redis and Postgres', () => {
  let env: TestEnv;
  let redis: Redis;
  let dlq: Producer;
  let receiver: HttpReceiver;
  let slow: http.Server;
  let slowAccepted: string[];
  let slowUrl: string;

  beforeAll(async () => {
    env = await createTestEnv('notify');
    redis = new Redis(setting('REDIS_URL', env.overrides));
    dlq = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await dlq.connect();
    receiver = new HttpReceiver();
    await receiver.start();
    slowAccepted = [];
    // A webhook that accepts after 1 s.
    slow = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        slowAccepted.push(Buffer.concat(chunks).toString('utf8'));
        setTimeout(() => res.writeHead(200).end('ok'), 1000);
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slack`;
    env.cleanup(() => new Promise((resolve) => slow.close(resolve)));
    env.cleanup(() => receiver.stop());
    env.cleanup(() => dlq.disconnect());
    env.cleanup(() => redis.quit());
  });
  afterAll(() => env.close());

  const notification = (id: string): Notification => ({
    alert_id: id, sequence: 1, kind: 'anomaly', persona_id: `${env.id}-p`, anomaly_type: 'cost_spike', severity: 'medium',
    title: 'T', lines: [['Persona', `${env.id}-p`]], summary: 's', dedup_key: id, event_action: 'trigger',
  });
  const deliverer = (slackUrl: string, claimTtlMs: number, slackTimeoutMs = 3000) =>
    new Deliverer({
      redis, pool: env.pool, dlq, deadLetterTopic: topics(env.overrides).deadLetter, groupId: `test.${env.id}.notify`, log: logger('test'),
      channels: createChannels({ slackWebhookUrl: slackUrl, slackTimeoutMs, pagerDutyUrl: '', pagerDutyRoutingKey: '', pagerDutyTimeoutMs: 1000, smtpUrl: '', emailFrom: 'x@example.test', emailTo: [], emailTimeoutMs: 1000 }),
      maxAttempts: 3, retryInitialMs: 50, retryMaxMs: 200, claimTtlMs, dedupTtlSeconds: 60, concurrency: 4,
    });

  it('two workers on one delivery send it once even when the delivery outlasts the claim TTL (the claim is renewed)', async () => {
    const n = notification(`${env.id}-lease`);
    const a = deliverer(slowUrl, 300);
    const b = deliverer(slowUrl, 300);
    const first = a.deliver(n, 'slack');
    await new Promise((r) => setTimeout(r, 600)); // a's first claim would have lapsed by now
    const second = b.deliver(n, 'slack');
    expect(await Promise.all([first, second])).toEqual(['delivered', 'duplicate']);
    expect(slowAccepted).toHaveLength(1);
  });

  it('a reply that arrives while the event loop is stalled past the timeout is read, not retried as a second delivery', async () => {
    // The webhook accepts, then this process stalls (a loaded machine): the reply sits unread in the
    // socket while the 200 ms timeout passes.
    let accepted = 0;
    const stalling = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        accepted++;
        res.writeHead(200).end('ok');
        stall(600);
      });
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    try {
      const d = deliverer(`http://127.0.0.1:${(stalling.address() as AddressInfo).port}/slack`, 1000, 200);
      const id = `${env.id}-stall`;
      const slack = new SlackChannel(`http://127.0.0.1:${(stalling.address() as AddressInfo).port}/slack`, 200);
      await expect(slack.send(notification(`${id}-direct`))).resolves.toEqual({ status: 200 });
      expect(await d.deliver(notification(id), 'slack')).toBe('delivered');
      expect(accepted).toBe(2); // one each: no retry after a reply that had arrived
    } finally {
      await new Promise((resolve) => stalling.close(resolve));
    }
  });

  it('a peer that never answers is still given up after its timeout', async () => {
    receiver.plan('/slack', 'hang');
    const slack = new SlackChannel(`${receiver.url}/slack`, 200);
    const started = Date.now();
    await expect(slack.send(notification(`${env.id}-hang`))).rejects.toMatchObject({ retriable: true, message: expect.stringContaining('no answer within 200 ms') });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a 4xx other than 408/429 is final at once: not retried, dead-lettered as refused', async () => {
    const refusing = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400).end('invalid_payload'));
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    let hits = 0;
    refusing.on('request', () => hits++);
    try {
      const d = deliverer(`http://127.0.0.1:${(refusing.address() as AddressInfo).port}/slack`, 1000);
      const id = `${env.id}-400`;
      expect(await d.deliver(notification(id), 'slack')).toBe('dead_lettered');
      expect(hits).toBe(1);
      const row = await env.pool.query('SELECT outcome, attempts, status_code FROM alert_deliveries WHERE alert_id = $1', [id]);
      expect(row.rows).toEqual([{ outcome: 'dead_lettered', attempts: 1, status_code: 400 }]);
    } finally {
      await new Promise((resolve) => refusing.close(resolve));
    }
  });
});
