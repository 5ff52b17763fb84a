import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { defaults, SettingName } from '../../src/config/defaults';
import { roleNames } from '../../app/roles';
import { API_METRICS_PORT, CONSUMER_TOPICS, databaseUrlOf, generate, groupSettingOf, METRICS_PORT } from '../../k8s/generate';
import { badCommand, kubectlAvailable, policyProblems, ROOT, secretLeaks, unknownEnv, validateK8s, yamlFilesUnder } from './manifests-support';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> } & Record<string, any>;

const K8S = join(ROOT, 'k8s');
const PARTITIONS = Number(defaults.TOPIC_PARTITIONS);
const isKustomization = (p: string) => /kustomization\.ya?ml$/.test(p);

function docsOf(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${relative(ROOT, file)}: ${d.errors[0].message}`);
    return d.toJS() as K8sObject;
  }).filter(Boolean);
}

function rendered(): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', join(K8S, 'overlays', 'example')], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject).filter(Boolean);
}

/** Env var names a pod template sets: env entries and the keys of the ConfigMaps/Secrets it imports. */
function podEnvNames(spec: any, objects: K8sObject[]): string[] {
  const names: string[] = [];
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) names.push(e.name);
    for (const from of c.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
      const obj = objects.find((o) => o.kind === kind && o.metadata.name === ref.name);
      if (!obj) throw new Error(`${kind} ${ref.name} is referenced but not in the rendered overlay`);
      names.push(...Object.keys(obj.data ?? {}), ...Object.keys(obj.stringData ?? {}));
    }
  }
  return names;
}

describe('Kubernetes manifests (k8s/)', () => {
  const files = yamlFilesUnder(K8S);
  const resourceFiles = files.filter((f) => !isKustomization(f));

  it('are what k8s/generate.ts makes from the current roles and settings', () => {
    for (const [path, content] of Object.entries(generate())) {
      expect({ path: relative(ROOT, path), content: existsSync(path) ? readFileSync(path, 'utf8') : '(missing)' }).toEqual({ path: relative(ROOT, path), content });
    }
  });

  it('parse and validate against the Kubernetes, KEDA and Prometheus Operator schemas', () => {
    const docs = resourceFiles.flatMap(docsOf);
    expect(docs.length).toBeGreaterThan(10);
    const results = validateK8s(docs);
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results.map((r) => r.id.split(' ')[1])).toEqual(expect.arrayContaining(['Deployment', 'Service', 'HorizontalPodAutoscaler', 'ScaledObject', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule', 'NetworkPolicy', 'Job', 'ConfigMap']));
  });

  it('schema validation catches a broken object (the check can fail)', () => {
    const [deployment] = docsOf(join(K8S, 'base', 'roles', 'storage.yaml'));
    const broken = JSON.parse(JSON.stringify(deployment));
    broken.spec.replicas = 'two';
    broken.spec.template.spec.containers[0].livenessProbe.httpGet.port = { not: 'a port' };
    const [r] = validateK8s([broken]);
    expect(r.error).toMatch(/replicas|port/);
  });

  it('kustomizations reference only files that exist', () => {
    for (const file of files.filter(isKustomization)) {
      const k = parse(readFileSync(file, 'utf8'));
      const refs: string[] = [...(k.resources ?? []), ...(k.components ?? []), ...(k.patches ?? []).map((p: { path?: string }) => p.path).filter(Boolean)];
      for (const ref of refs) expect({ file: relative(ROOT, file), ref, exists: existsSync(join(dirname(file), ref)) }).toEqual({ file: relative(ROOT, file), ref, exists: true });
    }
  });

  const maybe = kubectlAvailable() ? describe : describe.skip;
  maybe('the example overlay, rendered by kubectl kustomize', () => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = rendered();
    });

    it('validates against the schemas', () => {
      // kustomize wraps long base64 Secret values over lines (the API server ignores the newlines;
      // the schema's "byte" format does not), so they are unwrapped before validation.
      const unwrapped = objects.map((o) =>
        o.kind === 'Secret' && o.data ? { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, String(v).replace(/\s+/g, '')])) } : o,
      );
      const results = validateK8s(unwrapped);
      expect(results.filter((r) => r.error)).toEqual([]);
    });

    it('has one Deployment per role, running that role from the same image, with probes, drain and limits', () => {
      const deployments = objects.filter((o) => o.kind === 'Deployment');
      const roles = roleNames();
      expect(deployments.map((d) => d.spec.template.spec.containers[0].args[1]).sort()).toEqual([...roles].sort());
      const images = new Set<string>();
      for (const d of deployments) {
        const pod = d.spec.template.spec;
        const c = pod.containers[0];
        images.add(c.image);
        expect({ name: d.metadata.name, problem: badCommand(c.args, roles) }).toEqual({ name: d.metadata.name, problem: undefined });
        expect(c.livenessProbe.httpGet.path).toBe('/health');
        expect(c.readinessProbe.httpGet.path).toBe('/ready');
        expect(c.lifecycle.preStop).toBeDefined();
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
        expect(c.resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
        expect(c.resources.limits).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
        expect(pod.securityContext.runAsNonRoot).toBe(true);
      }
      expect(images.size).toBe(1);
      const job = objects.find((o) => o.kind === 'Job')!;
      expect(badCommand(job.spec.template.spec.containers[0].args, roles)).toBeUndefined();
    });

    it('sets only environment variables the code reads', () => {
      const names = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job').flatMap((o) => podEnvNames(o.spec.template.spec, objects));
      expect(names).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'STORAGE_DATABASE_URL', 'MIGRATOR_DATABASE_URL']));
      expect(unknownEnv(names)).toEqual([]);
    });

    it('gives each workload only its own database login, from a Secret, and is not the local stack', () => {
      const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'finops-config')!;
      expect(config.data?.FINOPS_ENVIRONMENT).not.toBe('local');
      for (const w of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job')) {
        const names = podEnvNames(w.spec.template.spec, objects);
        const dbNames = names.filter((n) => n.endsWith('DATABASE_URL'));
        const workload = w.kind === 'Job' ? 'setup' : w.spec.template.spec.containers[0].args[1];
        // A role without a database login of its own (ingest talks to Kafka only) gets none.
        if (!databaseUrlOf(workload)) {
          expect({ workload, dbNames }).toEqual({ workload, dbNames: [] });
          continue;
        }
        expect({ workload, dbNames }).toEqual({ workload, dbNames: [databaseUrlOf(workload)!.name] });
        const ref = w.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === dbNames[0]).valueFrom.secretKeyRef;
        expect(ref).toEqual({ name: 'finops-database', key: databaseUrlOf(workload)!.key });
      }
    });

    it('never scales a consumer beyond the partition count, and KEDA watches the right group, topic and brokers', () => {
      const consumers = roleNames().filter((r) => r in CONSUMER_TOPICS);
      const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'finops-config')!;
      const partitions = Number(config.data?.TOPIC_PARTITIONS ?? PARTITIONS);
      for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
        const role = hpa.spec.scaleTargetRef.name.replace(/^finops-/, '');
        if (consumers.includes(role)) expect(hpa.spec.maxReplicas).toBeLessThanOrEqual(partitions);
      }
      const scaled = objects.filter((o) => o.kind === 'ScaledObject');
      expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(consumers.map((r) => `finops-${r}`).sort());
      for (const s of scaled) {
        const role = s.spec.scaleTargetRef.name.replace(/^finops-/, '');
        expect(s.spec.maxReplicaCount).toBeLessThanOrEqual(partitions);
        const kafka = s.spec.triggers.filter((t: { type: string }) => t.type === 'kafka');
        expect(kafka.map((t: { metadata: { topic: string } }) => t.metadata.topic).sort()).toEqual(CONSUMER_TOPICS[role].map((k) => config.data?.[k] ?? defaults[k]).sort());
        for (const t of kafka) {
          expect(t.metadata.consumerGroup).toBe(config.data?.[groupSettingOf(role)!] ?? defaults[groupSettingOf(role) as SettingName]);
          expect(t.metadata.bootstrapServers).toBe(config.data?.KAFKA_BROKERS);
        }
        // KEDA's own HPA replaces the CPU HPA: never two HPAs on one Deployment.
        expect(objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === s.spec.scaleTargetRef.name)).toBeUndefined();
      }
      // Every consumer group's Deployment has a PodDisruptionBudget.
      for (const d of objects.filter((o) => o.kind === 'Deployment')) expect(objects.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === d.metadata.name)).toBe(true);
    });

    it('takes every secret from a Secret reference, key by key: no literal, no ConfigMap entry, no Secret with data', () => {
      expect(secretLeaks(objects)).toEqual([]);
      const env = (name: string) => objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job').flatMap((o) => o.spec.template.spec.containers[0].env.filter((e: { name: string }) => e.name === name));
      expect(env('DATABASE_URL')).toEqual([]);
      const databaseUrls = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job').flatMap((o) => o.spec.template.spec.containers[0].env.filter((e: { name: string }) => e.name.endsWith('_DATABASE_URL')));
      expect(databaseUrls.length).toBe(roleNames().filter((r) => databaseUrlOf(r)).length + 1);
      for (const e of databaseUrls) expect(e.valueFrom.secretKeyRef.name).toBe('finops-database');
      // Each role reads only the secrets it uses: the webhook URLs reach alerts and breaker only.
      expect(objects.filter((o) => o.kind === 'Deployment' && o.spec.template.spec.containers[0].env.some((e: { name: string }) => e.name === 'ALERT_SLACK_WEBHOOK_URL')).map((o) => o.metadata.name).sort()).toEqual(['finops-alerts', 'finops-breaker']);
    });

    it('the secret check can fail: a literal password, a whole-Secret import, a Secret with data', () => {
      const broken = JSON.parse(JSON.stringify(objects)) as K8sObject[];
      const storage = broken.find((o) => o.kind === 'Deployment' && o.metadata.name === 'finops-storage')!;
      storage.spec.template.spec.containers[0].env.push({ name: 'KAFKA_SASL_PASSWORD', value: 'hunter2' }, { name: 'SCHEMA_REGISTRY_URL', value: 'https://u:p@registry/x' });
      storage.spec.template.spec.containers[0].envFrom.push({ secretRef: { name: 'finops-secrets' } });
      broken.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'finops-secrets' }, stringData: { DATABASE_URL: 'postgres://finops:change-me@db/finops' } });
      expect(secretLeaks(broken)).toEqual([
        'Deployment finops-storage sets KAFKA_SASL_PASSWORD without a secretKeyRef',
        'Deployment finops-storage SCHEMA_REGISTRY_URL has credentials in a URL',
        'Deployment finops-storage imports the whole Secret finops-secrets',
        'Secret finops-secrets carries literal data',
      ]);
    });

    it('admits the metrics port (the API\'s too, on API_METRICS_PORT) only from the monitoring namespace, and the API port only to API pods', () => {
      expect(policyProblems(objects, [METRICS_PORT, API_METRICS_PORT], Number(defaults.API_PORT))).toEqual([]);
      const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'finops-api')!.spec.template.spec.containers[0];
      const metricsPort = Number(api.env.find((e: { name: string }) => e.name === 'API_METRICS_PORT').value);
      expect(metricsPort).not.toBe(Number(defaults.API_PORT));
      expect(api.ports.map((p: { containerPort: number }) => p.containerPort)).toContain(metricsPort);
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
      const opened = (name: string) => policies.filter((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/name'] === name || !p.spec.podSelector.matchLabels['app.kubernetes.io/name']).flatMap((p) => p.spec.ingress.flatMap((r: { ports: { port: number }[] }) => r.ports.map((x) => x.port)));
      expect(new Set(opened('finops-api'))).toEqual(new Set([metricsPort, Number(defaults.API_PORT)]));
      expect(new Set(opened('finops-storage'))).toEqual(new Set([METRICS_PORT]));
    });

    it('the policy check can fail: the old policy opened the API port, where /metrics was served, to every namespace on every pod', () => {
      const old = [{ kind: 'NetworkPolicy', metadata: { name: 'finops-ingress' }, spec: { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'finops-pipeline' } }, ingress: [
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9464 }] },
        { from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] },
      ] } }];
      // With /metrics on the API port (8080), that port counts as a metrics port.
      expect(policyProblems(old, [9464, 8080], 8080)).toEqual([
        'finops-ingress opens the metrics port to [{"namespaceSelector":{}}]',
        "finops-ingress opens the API port on pods other than the API's",
      ]);
      expect(policyProblems([{ kind: 'NetworkPolicy', metadata: { name: 'open' }, spec: { podSelector: {}, ingress: [{}] } }], [9464], 8080)).toEqual(['open opens every port to "everyone"']);
    });

    it('ships the same alert rules as prometheus/rules/finops.rules.yml', () => {
      const rule = objects.find((o) => o.kind === 'PrometheusRule')!;
      expect(rule.spec).toEqual(parse(readFileSync(join(ROOT, 'prometheus', 'rules', 'finops.rules.yml'), 'utf8')));
    });
  });

  it('the env and command checks flag a misspelt variable or role (they can fail)', () => {
    expect(unknownEnv(['KAFKA_BROKERS', 'KAFKA_BROKER', 'STORAGE_GROUPID'])).toEqual(['KAFKA_BROKER', 'STORAGE_GROUPID']);
    expect(badCommand(['run', 'storgae'], roleNames())).toMatch(/unknown role/);
    expect(badCommand(['migrat'], roleNames())).toMatch(/unknown command/);
  });
});
