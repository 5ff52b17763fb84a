import { AssignerProtocol, PartitionAssigner } from 'kafkajs';

/**
 * Gives each member the SAME partition numbers of every subscribed topic, as Kafka Streams does
 * for co-partitioned inputs. Cost events and post outcomes are both keyed by persona with the
 * same partitioner and partition count, so partition n of each holds the same personas, and all
 * state of a persona lives on one member. (kafkajs's round-robin assigner would split them.)
 */
export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CoPartitioned',
  version: 1,
  async assign({ members, topics }) {
    const memberIds = members.map((m) => m.memberId).sort();
    const assignment: Record<string, Record<string, number[]>> = {};
    for (const id of memberIds) assignment[id] = {};
    for (const topic of topics) {
      const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId).sort((a, b) => a - b);
      for (const partition of partitions) {
        const owner = memberIds[partition % memberIds.length];
        (assignment[owner][topic] ??= []).push(partition);
      }
    }
    return memberIds.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: assignment[memberId], userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'CoPartitioned', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
