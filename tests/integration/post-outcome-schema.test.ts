import { CostTracker } from '../../producers';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { topics } from '../../src/config';
import { PostOutcome } from '../../src/events';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';

/** post-outcome.avsc gained `is_final` (default false): a BACKWARD-compatible evolution the SDK sends. */
describe('post-outcome.avsc: is_final', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv('outcomeschema');
  });
  afterAll(() => env.close());

  it('evolves BACKWARD from the schema without it; old messages read as not final; the SDK sends it', async () => {
    const topic = `${env.id}-outcomes-evolution`;
    const current = loadSchema('post-outcome');
    const previous = { ...current, fields: (current.fields as { name: string }[]).filter((f) => f.name !== 'is_final') };
    const v1 = await env.codec.register(topic, previous);
    const v2 = await env.codec.register(topic, current); // the registry checks BACKWARD compatibility
    expect(v2).not.toBe(v1);

    const old = { event_id: 'e1', post_id: 'p', persona_id: 'x', occurred_at: new Date(1_700_000_000_000), follows: 1, engagements: 2, revenue: 3n, currency: 'USD' };
    const decoded = await env.codec.decode<PostOutcome>(AvroCodec.encode(v1, avroType(previous), old), avroType(current));
    expect(decoded.value).toMatchObject({ ...old, is_final: false });

    const tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    await tracker.trackOutcome({ postId: 'p1', personaId: `${env.id}-x`, engagements: 5, final: true });
    await tracker.trackOutcome({ postId: 'p2', personaId: `${env.id}-x`, engagements: 5 });
    const received: PostOutcome[] = [];
    const consumer = env.kafka.consumer({ groupId: `${env.id}-outcomes` });
    await consumer.connect();
    env.cleanup(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topics(env.overrides).postOutcomes], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void received.push((await env.codec.decode<PostOutcome>(message.value, avroType(current))).value) });
    await waitFor(() => received.length >= 2, { what: 'the two outcomes' });
    expect(received.map((o) => [o.post_id, o.is_final])).toEqual([['p1', true], ['p2', false]]);
  });
});
