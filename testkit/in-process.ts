import type avro from 'avsc';
import type { Consumer, Producer } from 'kafkajs';
import { roleFactories } from '../app/roles';
import { CostGuard, CostTracker } from '../producers';
import { avroType } from '../src/avro/codec';
import { loadSchema } from '../src/avro/schemas';
import { Overrides, topics } from '../src/config';
import { OpsServer } from '../src/http/ops-server';
import type { Role } from '../src/roles';
import type { TestEnv } from './fixtures';
import { localAlertChannels } from './pipeline-settings';
import { HttpReceiver, SmtpReceiver } from './receivers';

/** An SDK tracker on the env's topics, closed at env.close(). */
export function trackerFor(env: TestEnv, overrides: Overrides = {}): CostTracker {
  const tracker = new CostTracker({ overrides: { ...env.overrides, ...overrides } });
  env.cleanup(() => tracker.close());
  return tracker;
}

/** An SDK guard on the env's settings, started, and closed at env.close(). */
export async function guardFor(env: TestEnv): Promise<CostGuard> {
  const guard = await new CostGuard({ overrides: env.overrides }).start();
  env.cleanup(() => guard.close());
  return guard;
}

/** Starts the named roles (app/roles.ts) in this process on one OpsServer, in order; each stops at env.close(). */
export async function startRoles(env: TestEnv, names: string[], ops = new OpsServer()): Promise<Role[]> {
  const roles: Role[] = [];
  for (const name of names) {
    const role = await (await roleFactories[name]())({ overrides: env.overrides, ops });
    await role.start();
    env.cleanup(() => role.stop());
    roles.push(role);
  }
  return roles;
}

/** HTTP (Slack, PagerDuty) and SMTP receivers with the env's alert channels pointed at them (no grouping); both stop at env.close(). */
export async function alertReceivers(env: TestEnv): Promise<{ http: HttpReceiver; smtp: SmtpReceiver }> {
  const http = new HttpReceiver();
  const smtp = new SmtpReceiver();
  const [url, smtpUrl] = await Promise.all([http.start(), smtp.start()]);
  env.cleanup(() => http.stop());
  env.cleanup(() => smtp.stop());
  Object.assign(env.overrides, localAlertChannels(url, smtpUrl));
  return { http, smtp };
}

export interface DeadLetter {
  key: string;
  headers: Record<string, string>;
  value: Buffer | null;
}

/** Reads the env's dead-letter topic from the beginning into the returned array, until env.close(). */
export async function readDeadLetters(env: TestEnv): Promise<DeadLetter[]> {
  const records: DeadLetter[] = [];
  const consumer: Consumer = env.kafka.consumer({ groupId: `${env.id}-dlq-reader` });
  await consumer.connect();
  env.cleanup(() => consumer.disconnect());
  await consumer.subscribe({ topics: [topics(env.overrides).deadLetter], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      records.push({ key: String(message.key), headers, value: message.value });
    },
  });
  return records;
}

/** Whether `groupId` has committed every partition of `topic` up to its end (an empty partition counts as committed). */
export async function committedAll(env: TestEnv, groupId: string, topic: string): Promise<boolean> {
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    return ends.every((e) => {
      const c = committed.partitions.find((p) => p.partition === e.partition);
      return Number(e.high) === 0 || (c !== undefined && Number(c.offset) === Number(e.high));
    });
  } finally {
    await admin.disconnect();
  }
}

/** A plain producer for hand-made records on the env's cost-events topic, with the cost-event schema registered there (its id and type). */
export async function costEventWriter(env: TestEnv): Promise<{ producer: Producer; type: avro.Type; schemaId: number }> {
  const producer = env.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  env.cleanup(() => producer.disconnect());
  const schemaId = await env.codec.register(topics(env.overrides).costEvents, loadSchema('cost-event'));
  return { producer, type: avroType(loadSchema('cost-event')), schemaId };
}
