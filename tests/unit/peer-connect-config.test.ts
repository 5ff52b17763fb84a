import fs from 'node:fs';
import path from 'node:path';
import { apicurioV2Url, connectorProperties, jdbcUrl, peerTableSql } from '../../benchmarks/peer/debezium-jdbc';
import { propertiesText } from '../../benchmarks/peer/connect-standalone';
import { hotFrames } from '../../benchmarks/peer/thread-sampler';

type AvroField = { name: string; type: unknown };

/** The value's fields after the peer's transforms: price moved out, records flattened with '_'. */
function flattenedFields(schema: { fields: AvroField[] }): string[] {
  const out: string[] = [];
  for (const f of schema.fields) {
    if (f.name === 'price') continue;
    const types = Array.isArray(f.type) ? f.type : [f.type];
    const record = types.find((t): t is { type: 'record'; fields: AvroField[] } => typeof t === 'object' && t !== null && (t as { type?: string }).type === 'record');
    if (record) out.push(...record.fields.map((sub) => `${f.name}_${sub.name}`));
    else out.push(f.name);
  }
  return out;
}

describe('the Debezium JDBC peer', () => {
  it('has a table column for every field the transforms leave in a cost event, and stored_at', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../schemas/cost-event.avsc'), 'utf8'));
    const columns = [...peerTableSql('t').matchAll(/^\s{4}(\w+) /gm)].map((m) => m[1]);
    expect(columns).toEqual([...flattenedFields(schema), 'stored_at']);
  });

  it('moves the struct holding a map out of the value before Flatten and brings metadata back', () => {
    const p = connectorProperties({ name: 'n', topic: 't', table: 'x', databaseUrl: 'postgres://u:p@h:1/db', tasks: 6, batchSize: 5000 });
    expect(String(p.transforms).split(',')).toEqual(['maps', 'flatten', 'metadata']);
    expect(p['transforms.maps.fields']).toBe('metadata,price');
    expect(p['insert.mode']).toBe('upsert');
    expect(p['primary.key.fields']).toBe('event_id');
  });

  it('derives the converter URL and the JDBC URL from ours', () => {
    expect(apicurioV2Url('http://127.0.0.1:18081/apis/ccompat/v7')).toBe('http://127.0.0.1:18081/apis/registry/v2');
    expect(apicurioV2Url('http://reg:8080/registry/apis/ccompat/v7/')).toBe('http://reg:8080/registry/apis/registry/v2');
    expect(jdbcUrl('postgres://fin%40ops:s%3Acret@db:15432/finops_peer_bench')).toEqual({
      url: 'jdbc:postgresql://db:15432/finops_peer_bench?reWriteBatchedInserts=true',
      user: 'fin@ops',
      password: 's:cret',
    });
  });

  it('writes properties Java reads back as given', () => {
    expect(propertiesText({ 'transforms.flatten.type': 'a.Flatten$Value', 'plugin.path': 'C:\\x', 'a b': 1 })).toBe(
      'transforms.flatten.type=a.Flatten$Value\nplugin.path=C:\\\\x\na\\ b=1\n',
    );
  });

  it('counts the frames of the task threads across thread dumps', () => {
    const dump = (frame: string) =>
      `2026-01-01 00:00:00\nFull thread dump OpenJDK:\n\n"task-thread-x-0" #1 prio=5\n   java.lang.Thread.State: RUNNABLE\n\tat java.util.HashMap.get(HashMap.java:1)\n\tat ${frame}(X.java:2)\n\n"main" #2\n   java.lang.Thread.State: WAITING\n\tat a.B.c(B.java:1)\n\n`;
    const report = hotFrames(dump('org.hibernate.A.bind') + dump('org.hibernate.A.bind') + dump('io.debezium.B.flush'));
    expect(report.split('\n')).toEqual(['3 thread dumps', '    2  RUNNABLE org.hibernate.A.bind → java.util.HashMap.get', '    1  RUNNABLE io.debezium.B.flush → java.util.HashMap.get']);
  });
});
