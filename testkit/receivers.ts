import http from 'node:http';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * Real-protocol receivers for alert tests: an HTTP server that speaks like a Slack incoming webhook
 * (POST /slack → 200 "ok") and the PagerDuty Events API v2 (POST /pagerduty → 202 JSON), and can
 * answer 500, 429 (with Retry-After) or hang on demand; and a real SMTP server recording mail.
 * A request counts as delivered only if the receiver accepted it (2xx / SMTP 250).
 */
export type Behaviour = 'ok' | 500 | 429 | 'hang';

export interface RecordedRequest {
  path: '/slack' | '/pagerduty';
  body: any;
  status: number | 'hung';
  at: number;
}

export class HttpReceiver {
  readonly requests: RecordedRequest[] = [];
  private server: http.Server | undefined;
  private readonly planned = new Map<string, Behaviour[]>();
  private rule: ((path: string, body: any) => Behaviour | undefined) | undefined;
  private readonly hung = new Set<http.ServerResponse>();
  url = '';

  /** The next answers on `path`, in order, before answering normally again. */
  plan(path: '/slack' | '/pagerduty', ...behaviours: Behaviour[]): void {
    this.planned.set(path, [...(this.planned.get(path) ?? []), ...behaviours]);
  }

  /** A standing rule consulted before the plan (e.g. always fail one persona). */
  when(rule: ((path: string, body: any) => Behaviour | undefined) | undefined): void {
    this.rule = rule;
  }

  accepted(path: '/slack' | '/pagerduty'): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && typeof r.status === 'number' && r.status < 300);
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => this.answer(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    const path = (req.url ?? '').split('?')[0] as RecordedRequest['path'];
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    const queue = this.planned.get(path);
    const behaviour: Behaviour = this.rule?.(path, body) ?? queue?.shift() ?? 'ok';
    const record = (status: number | 'hung') => this.requests.push({ path, body, status, at: Date.now() });
    if (req.method !== 'POST' || (path !== '/slack' && path !== '/pagerduty')) {
      res.writeHead(404).end();
      return;
    }
    if (behaviour === 'hang') {
      record('hung');
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    if (behaviour === 500) {
      record(500);
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      return;
    }
    if (behaviour === 429) {
      record(429);
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' }).end('rate limited');
      return;
    }
    if (path === '/slack') {
      if (typeof body?.text !== 'string' || !body.text) {
        record(400);
        res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
        return;
      }
      record(200);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const valid = typeof body?.routing_key === 'string' && body.routing_key.length === 32 && ['trigger', 'acknowledge', 'resolve'].includes(body.event_action) &&
      (body.event_action !== 'trigger' || (body.payload?.summary && body.payload?.source && ['critical', 'error', 'warning', 'info'].includes(body.payload?.severity)));
    if (!valid) {
      record(400);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid event', message: 'Event object is invalid' }));
      return;
    }
    record(202);
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: body.dedup_key }));
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  alertId: string;
  sequence: string;
  raw: string;
  at: number;
}

export class SmtpReceiver {
  readonly messages: ReceivedMail[] = [];
  /** How many of the next messages to refuse with a temporary 451. */
  failNext = 0;
  private server: SMTPServer | undefined;
  url = '';

  async start(): Promise<string> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.failNext > 0) {
            this.failNext--;
            const err = Object.assign(new Error('Temporary local problem, try again later'), { responseCode: 451 });
            callback(err);
            return;
          }
          const raw = Buffer.concat(chunks).toString('utf8');
          const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(raw)?.[1]?.trim() ?? '';
          this.messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: header('Subject'),
            alertId: header('X-FinOps-Alert-Id'),
            sequence: header('X-FinOps-Alert-Sequence'),
            raw,
            at: Date.now(),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const port = ((this.server as unknown as { server: { address(): AddressInfo } }).server.address() as AddressInfo).port;
    this.url = `smtp://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

// ── Publishing CostAnomaly records as the anomaly consumer would (Avro, Confluent framing) ─────

import type { Producer } from 'kafkajs';
import { AvroCodec, avroType } from '../src/avro/codec';
import { loadSchema } from '../src/avro/schemas';
import { topics } from '../src/config';
import type { CostAnomaly } from '../src/contracts/anomaly';
import type { TestEnv } from './fixtures';

export class AnomalyPublisher {
  private readonly type = avroType(loadSchema('cost-anomaly'));
  private schemaId = 0;
  private producer: Producer | undefined;
  readonly topic: string;
  /** anomaly_id:sequence → Kafka timestamp of the record. */
  readonly publishedAt = new Map<string, number>();

  constructor(private readonly env: TestEnv) {
    this.topic = topics(env.overrides).costAnomalies;
  }

  async start(): Promise<this> {
    this.schemaId = await this.env.codec.register(this.topic, loadSchema('cost-anomaly'));
    this.producer = this.env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.env.cleanup(() => this.producer?.disconnect());
    return this;
  }

  async publish(...anomalies: CostAnomaly[]): Promise<void> {
    const now = Date.now();
    await this.producer!.send({
      topic: this.topic,
      acks: -1,
      messages: anomalies.map((a) => {
        this.publishedAt.set(`${a.anomaly_id}:${a.sequence}`, now);
        return { key: a.persona_id, value: AvroCodec.encode(this.schemaId, this.type, a), timestamp: String(now) };
      }),
    });
  }
}

export function anomaly(partial: Partial<CostAnomaly> & Pick<CostAnomaly, 'anomaly_id' | 'persona_id'>): CostAnomaly {
  const now = new Date();
  return {
    sequence: 1,
    status: 'open',
    anomaly_type: 'cost_spike',
    severity: 'critical',
    post_id: null,
    detected_at: now,
    window_start: new Date(now.getTime() - 60_000),
    window_end: now,
    observed: '0.067',
    baseline: '0.020',
    threshold: '3',
    unit: 'usd',
    multiplier: 3.35,
    triggering_event_ids: [],
    trigger_published_at: null,
    message: `Spend ${partial.persona_id} is 3.35x its baseline`,
    details: {},
    ...partial,
  } as CostAnomaly;
}
