import { Kafka, logLevel, ProducerConfig, RetryOptions } from 'kafkajs';
import { CostTracker } from '../../producers';

/** The client-wide retry options a Kafka instance merges under every producer's own (kafkajs keeps them privately). */
function clientRetry(kafka: Kafka): RetryOptions | undefined {
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:clusterRetry');
  return key ? (kafka as unknown as Record<symbol, RetryOptions>)[key] : undefined;
}

describe("the SDK's idempotent producer", () => {
  it('is created with unbounded retries, so kafkajs does not warn that limited retries may invalidate exactly-once', () => {
    const made: { kafka: Kafka; config: ProducerConfig | undefined }[] = [];
    const original = Kafka.prototype.producer;
    const spy = jest.spyOn(Kafka.prototype, 'producer').mockImplementation(function (this: Kafka, config?: ProducerConfig) {
      made.push({ kafka: this, config });
      return original.call(this, config);
    });
    try {
      new CostTracker({ overrides: { KAFKA_BROKERS: '127.0.0.1:1' } });
    } finally {
      spy.mockRestore();
    }
    expect(made).toHaveLength(1);
    // The same producer options on a client with the same retry settings, whose log we can read.
    const warnings: string[] = [];
    const probe = new Kafka({
      clientId: 'unit', brokers: ['127.0.0.1:1'], retry: clientRetry(made[0].kafka), logLevel: logLevel.WARN,
      logCreator: () => ({ log }) => void warnings.push(log.message),
    });
    original.call(probe, made[0].config);
    expect(made[0].config?.idempotent).toBe(true);
    expect(warnings.filter((w) => /Limiting retries/.test(w))).toEqual([]);
    // Reconnects back off to at most a second, so publishing resumes soon after the broker returns.
    expect(clientRetry(made[0].kafka)?.maxRetryTime).toBeLessThanOrEqual(1000);
  });
});
