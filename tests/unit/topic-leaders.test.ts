import { waitForTopicLeaders } from '../../src/kafka/client';

type Metadata = Awaited<ReturnType<Parameters<typeof waitForTopicLeaders>[0]['fetchTopicMetadata']>>;

const withLeaders = (leader: number): Metadata => ({ topics: [{ name: 't', partitions: [{ partitionId: 0, leader, replicas: [1], isr: [1], offlineReplicas: [], partitionErrorCode: 0 }] }] });
const protocolError = (type: string) => Object.assign(new Error(type), { type });

describe('waitForTopicLeaders', () => {
  it('waits through a broker that does not know the new topic yet, then for its leaders', async () => {
    const answers: (Metadata | Error)[] = [protocolError('UNKNOWN_TOPIC_OR_PARTITION'), protocolError('LEADER_NOT_AVAILABLE'), withLeaders(-1), withLeaders(1)];
    let calls = 0;
    const admin = { fetchTopicMetadata: async () => { const a = answers[calls++]; if (a instanceof Error) throw a; return a; } };
    await waitForTopicLeaders(admin, ['t'], 5000);
    expect(calls).toBe(4);
  });

  it('passes on any other error at once', async () => {
    const admin = { fetchTopicMetadata: async (): Promise<Metadata> => { throw protocolError('TOPIC_AUTHORIZATION_FAILED'); } };
    await expect(waitForTopicLeaders(admin, ['t'], 5000)).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
  });

  it('gives up after its deadline with a message that says what to check', async () => {
    const admin = { fetchTopicMetadata: async () => withLeaders(-1) };
    await expect(waitForTopicLeaders(admin, ['t'], 300)).rejects.toThrow(/no leader .* is the broker healthy/);
  });
});
