import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { CostTracker } from '../../producers';
import { AvroCodec } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { setting, topics } from '../../src/config';
import { InvalidInputError } from '../../src/errors';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';

describe('schemas in the Confluent-compatible registry', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv('registry');
  });
  afterAll(() => env.close());

  it('registers under the topic-name strategy with BACKWARD compatibility and refuses an incompatible change', async () => {
    const topic = `${env.id}-evolution`;
    const base = loadSchema('cost-event');
    const v1 = await env.codec.register(topic, base);
    const res = await fetch(`${setting('SCHEMA_REGISTRY_URL')}/config/${AvroCodec.subjectFor(topic)}`);
    expect(((await res.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe('BACKWARD');

    // A new required field: old events cannot be read with the new schema.
    const incompatible = { ...base, fields: [...(base.fields as object[]), { name: 'tenant_id', type: 'string' }] };
    await expect(env.codec.register(topic, incompatible)).rejects.toThrow(InvalidInputError);
    await expect(env.codec.register(topic, incompatible)).rejects.toMatchObject({ reason: 'schema.incompatible' });

    // The same field with a default is a compatible evolution.
    const compatible = { ...base, fields: [...(base.fields as object[]), { name: 'tenant_id', type: 'string', default: 'default' }] };
    const v2 = await env.codec.register(topic, compatible);
    expect(v2).not.toBe(v1);
    // Registering an existing schema again returns its id.
    expect(await env.codec.register(topic, base)).toBe(v1);
  });

  it('writes messages another Confluent-compatible client decodes', async () => {
    const tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    const tracked = await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1234, outputTokens: 567, personaId: `${env.id}-p`, postId: 'interop', correlationId: 'c-1' });

    const received: Buffer[] = [];
    const consumer = env.kafka.consumer({ groupId: `${env.id}-interop` });
    await consumer.connect();
    env.cleanup(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topics(env.overrides).costEvents], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void received.push(message.value!) });
    await waitFor(() => received.length >= 1, { what: 'the published message' });

    // @kafkajs/confluent-schema-registry knows nothing of our logical types: decimals arrive as bytes.
    const other = new SchemaRegistry({ host: setting('SCHEMA_REGISTRY_URL') });
    const decoded = await other.decode(received[0]);
    expect(decoded).toMatchObject({ event_id: tracked.eventId, persona_id: `${env.id}-p`, post_id: 'interop', cost_type: 'openai_api', currency: 'USD' });
    expect(decoded.llm_usage).toMatchObject({ model: 'gpt-4o', input_tokens: 1234, output_tokens: 567 });
    const bytes: Buffer = decoded.amount;
    const unscaled = BigInt(`0x${bytes.toString('hex')}`);
    expect(unscaled).toBe(tracked.nanoUsd);
    expect(typeof decoded.event_time).toBe('number');
  });
});
