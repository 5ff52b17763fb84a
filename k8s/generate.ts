/**
 * Generates the kustomize base (k8s/base) and the KEDA component (k8s/components/keda) from the
 * role registry and the settings, so the manifests name exactly the roles and settings the code has.
 *   npx tsx k8s/generate.ts
 * The output is plain YAML, committed; tests/unit/manifests.test.ts checks it is up to date.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { defaults, SettingName } from '../src/config/defaults';
import { roleNames } from '../app/roles';
import { runtimeEnv, RESOURCES } from './resources';

export const PARTITIONS = Number(defaults.TOPIC_PARTITIONS);
export const METRICS_PORT = Number(defaults.METRICS_PORT);
const API_PORT = Number((defaults as Record<string, string>).API_PORT ?? '8080');
const INGEST_PORT = Number(defaults.INGEST_PORT);
/** The API serves /metrics on its own port (not on API_PORT), beside the ops endpoints. */
export const API_METRICS_PORT = Number(defaults.API_METRICS_PORT || defaults.METRICS_PORT);
/** Certificates and keys for TLS to Kafka, Postgres and Redis: the optional Secret finops-tls, mounted read-only. */
export const TLS_MOUNT = '/etc/finops/tls';
const IMAGE = 'ghcr.io/example/finops-pipeline:0.1.0';
const PART_OF = 'finops-pipeline';

/** Topics each consumer role reads, by setting name. A role not listed is not a Kafka consumer. */
export const CONSUMER_TOPICS: Record<string, SettingName[]> = {
  storage: ['TOPIC_COST_EVENTS'],
  anomaly: ['TOPIC_COST_EVENTS', 'TOPIC_POST_OUTCOMES'],
  alerts: ['TOPIC_COST_ANOMALIES'],
  breaker: ['TOPIC_COST_ANOMALIES'],
};

/**
 * Secrets each pod reads, each from its own key of the Secret finops-secrets (never a literal, never
 * the whole Secret): a role gets only the keys it uses. Optional keys may be absent from the Secret.
 */
export const SECRET_NAME = 'finops-secrets';
type SecretRef = { key: SettingName; optional?: boolean };
const TRANSPORT_SECRETS: SecretRef[] = [{ key: 'KAFKA_SASL_PASSWORD', optional: true }, { key: 'SCHEMA_REGISTRY_PASSWORD', optional: true }];
const ALERT_SECRETS: SecretRef[] = [{ key: 'ALERT_SLACK_WEBHOOK_URL', optional: true }, { key: 'ALERT_PAGERDUTY_ROUTING_KEY', optional: true }, { key: 'ALERT_SMTP_URL', optional: true }];
const PAGE_SECRETS: SecretRef[] = [{ key: 'BREAKER_PAGE_SLACK_WEBHOOK_URL', optional: true }, { key: 'BREAKER_PAGE_PAGERDUTY_ROUTING_KEY', optional: true }, { key: 'BREAKER_PAGE_SMTP_URL', optional: true }];
export const ROLE_SECRETS: Record<string, SecretRef[]> = {
  setup: [...TRANSPORT_SECRETS],
  storage: [{ key: 'REDIS_URL' }, ...TRANSPORT_SECRETS],
  anomaly: [...TRANSPORT_SECRETS],
  alerts: [{ key: 'REDIS_URL' }, ...ALERT_SECRETS, ...TRANSPORT_SECRETS],
  // Pages use BREAKER_PAGE_* when set, else the ALERT_* channels (src/notify/settings.ts).
  breaker: [{ key: 'REDIS_URL' }, ...ALERT_SECRETS, ...PAGE_SECRETS, ...TRANSPORT_SECRETS],
  api: [{ key: 'REDIS_URL' }, { key: 'API_TOKENS' }, ...TRANSPORT_SECRETS],
  ingest: [{ key: 'REDIS_URL' }, { key: 'API_TOKENS' }, ...TRANSPORT_SECRETS],
};

function secretEnv(role: string) {
  const refs = ROLE_SECRETS[role];
  if (!refs) throw new Error(`no ROLE_SECRETS entry for role ${role}: list the secrets it reads in k8s/generate.ts`);
  return refs.map(({ key, optional }) => ({ name: key, valueFrom: { secretKeyRef: { name: SECRET_NAME, key, ...(optional ? { optional: true } : {}) } } }));
}

export function groupSettingOf(role: string): SettingName | undefined {
  const base = role.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  const candidates = [`${base}_GROUP_ID`, `${base.replace(/S$/, '')}_GROUP_ID`, `${base}S_GROUP_ID`];
  return (Object.keys(defaults) as SettingName[]).find((k) => candidates.includes(k));
}

const labels = (component: string) => ({ 'app.kubernetes.io/name': `finops-${component}`, 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': PART_OF });
const selector = (component: string) => ({ 'app.kubernetes.io/name': `finops-${component}`, 'app.kubernetes.io/part-of': PART_OF });

/** Secret holding one database URL per login (keys: migrator and each role); each pod mounts only its own. */
export const DATABASE_SECRET = 'finops-database';

/** The `<ROLE>_DATABASE_URL` setting a workload reads, and its key in DATABASE_SECRET. */
export function databaseUrlOf(workload: string): { name: SettingName; key: string } | undefined {
  const key = workload === 'setup' ? 'migrator' : workload;
  const name = `${key.toUpperCase()}_DATABASE_URL`;
  return name in defaults ? { name: name as SettingName, key } : undefined;
}

function container(role: string, args: string[], workload = role) {
  const r = RESOURCES[role] ?? RESOURCES.default;
  const db = databaseUrlOf(workload);
  const secretsOf = args[0] === 'run' ? args[1] : args[0];
  return {
    name: 'finops',
    image: IMAGE,
    imagePullPolicy: 'IfNotPresent',
    args,
    envFrom: [{ configMapRef: { name: 'finops-config' } }],
    env: [
      { name: 'KAFKA_CLIENT_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...Object.entries(runtimeEnv(role)).map(([name, value]) => ({ name, value })),
      // Its own database login only (docs/security.md): never another role's password.
      ...(db ? [{ name: db.name, valueFrom: { secretKeyRef: { name: DATABASE_SECRET, key: db.key } } }] : []),
      ...(secretsOf === 'api' ? [{ name: 'API_METRICS_PORT', value: String(API_METRICS_PORT) }] : []),
      ...secretEnv(secretsOf),
    ],
    resources: { requests: r.requests, limits: r.limits },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, { name: 'tls', mountPath: TLS_MOUNT, readOnly: true }],
  };
}

function podSpec(role: string, args: string[], extraPorts: { name: string; containerPort: number }[] = [], workload = role) {
  const c = container(role, args, workload);
  return {
    serviceAccountName: 'finops',
    automountServiceAccountToken: false,
    // SIGTERM → stop fetching, finish and commit the batch in hand, exit; 60 s covers a full batch plus retries.
    terminationGracePeriodSeconds: 60,
    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector(role) } }],
    containers: [
      {
        ...c,
        ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }, ...extraPorts.map((p) => ({ ...p, protocol: 'TCP' }))],
        // /health answers at once; until its dependencies answer the role waits, unready (the setup Job migrates).
        startupProbe: { httpGet: { path: '/health', port: 'metrics' }, periodSeconds: 2, failureThreshold: 60 },
        livenessProbe: { httpGet: { path: '/health', port: 'metrics' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
        readinessProbe: { httpGet: { path: '/ready', port: 'metrics' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
        // Keep serving while endpoints and load balancers drop this pod, then SIGTERM drains it.
        lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, { name: 'tls', secret: { secretName: 'finops-tls', optional: true, defaultMode: 0o440 } }],
  };
}

function roleResources(role: string): object[] {
  const isConsumer = role in CONSUMER_TOPICS;
  const extraPorts = role === 'api' ? [{ name: 'http', containerPort: API_PORT }] : role === 'ingest' ? [{ name: 'http', containerPort: INGEST_PORT }] : [];
  const name = `finops-${role}`;
  const maxReplicas = isConsumer ? PARTITIONS : 10;
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels: labels(role) },
      spec: {
        replicas: 2,
        revisionHistoryLimit: 5,
        selector: { matchLabels: selector(role) },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
        template: { metadata: { labels: labels(role) }, spec: podSpec(role, ['run', role], extraPorts) },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, labels: labels(role) },
      spec: {
        selector: selector(role),
        ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }, ...extraPorts.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name, protocol: 'TCP' }))],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, labels: labels(role) },
      spec: { maxUnavailable: 1, selector: { matchLabels: selector(role) } },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name, labels: labels(role) },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: 2,
        // A consumer group uses at most one consumer per partition: more replicas would sit idle.
        maxReplicas,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
        behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
      },
    },
  ];
}

function scaledObject(role: string): object {
  const name = `finops-${role}`;
  const groupKey = groupSettingOf(role);
  if (!groupKey) throw new Error(`no *_GROUP_ID setting for consumer role ${role}`);
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name, labels: labels(role) },
    spec: {
      scaleTargetRef: { name },
      minReplicaCount: 1,
      // One consumer per partition at most: replicas beyond the partition count would receive nothing.
      maxReplicaCount: PARTITIONS,
      pollingInterval: 15,
      cooldownPeriod: 300,
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } } } },
      triggers: [
        ...CONSUMER_TOPICS[role].map((topicKey) => ({
          type: 'kafka',
          metadata: {
            bootstrapServers: 'kafka-bootstrap.kafka.svc:9092',
            consumerGroup: defaults[groupKey],
            topic: defaults[topicKey],
            lagThreshold: '1000',
            activationLagThreshold: '10',
            offsetResetPolicy: 'earliest',
            allowIdleConsumers: 'false',
          },
        })),
        { type: 'cpu', metricType: 'Utilization', metadata: { value: '70' } },
      ],
    },
  };
}

function setupJob(): object {
  const spec = podSpec('default', ['setup'], [], 'setup') as { containers: Record<string, unknown>[] } & Record<string, unknown>;
  const c = { ...spec.containers[0] };
  for (const k of ['startupProbe', 'livenessProbe', 'readinessProbe', 'lifecycle', 'ports']) delete c[k];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'finops-setup', labels: labels('setup') },
    spec: {
      backoffLimit: 6,
      ttlSecondsAfterFinished: 3600,
      template: { metadata: { labels: labels('setup') }, spec: { ...spec, topologySpreadConstraints: undefined, restartPolicy: 'OnFailure', containers: [c] } },
    },
  };
}

function yamlDocs(docs: object[], header: string): string {
  return `# ${header}\n# Generated by k8s/generate.ts — edit that, then run: npx tsx k8s/generate.ts\n` + docs.map((d) => stringify(JSON.parse(JSON.stringify(d)), { lineWidth: 0 })).join('---\n');
}

export function generate(): Record<string, string> {
  const root = join(__dirname);
  const roles = roleNames();
  const consumers = roles.filter((r) => r in CONSUMER_TOPICS);
  const rules = parse(readFileSync(join(__dirname, '..', 'prometheus', 'rules', 'finops.rules.yml'), 'utf8'));
  const files: Record<string, string> = {};
  const put = (path: string, content: string) => (files[join(root, path)] = content);

  for (const role of roles) put(`base/roles/${role}.yaml`, yamlDocs(roleResources(role), `Role "${role}": Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler (CPU).`));
  put('base/setup-job.yaml', yamlDocs([setupJob()], 'One-shot migration Job: SQL migrations, topics, schema registration (`finops setup`).'));
  put(
    'base/config.yaml',
    yamlDocs(
      [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'finops-config', labels: { 'app.kubernetes.io/part-of': PART_OF } },
          data: {
            KAFKA_BROKERS: 'kafka-bootstrap.kafka.svc:9092',
            SCHEMA_REGISTRY_URL: 'http://schema-registry.kafka.svc:8080/apis/ccompat/v7',
            TOPIC_PARTITIONS: String(PARTITIONS),
            TOPIC_REPLICATION_FACTOR: '3',
            METRICS_PORT: String(METRICS_PORT),
            LOG_LEVEL: 'info',
            // Not the local stack: a missing database URL is a start-up error, never the built-in one.
            FINOPS_ENVIRONMENT: 'production',
          },
        },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'finops', labels: { 'app.kubernetes.io/part-of': PART_OF } }, automountServiceAccountToken: false },
      ],
      'Non-secret settings (names are keys of src/config/defaults.ts) and the service account. Secrets are never here: each workload\'s own database URL comes from the Secret finops-database (keys migrator, storage, anomaly, alerts, breaker, api); REDIS_URL, webhook URLs, API tokens, SASL and registry passwords from the Secret finops-secrets, each pod reading only the keys it needs (see docs/security.md#deployment); certificates from the optional Secret finops-tls mounted at ' + TLS_MOUNT + '.',
    ),
  );
  put(
    'base/networkpolicy.yaml',
    yamlDocs(
      [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'finops-metrics', labels: { 'app.kubernetes.io/part-of': PART_OF } },
          spec: {
            podSelector: { matchLabels: { 'app.kubernetes.io/part-of': PART_OF } },
            policyTypes: ['Ingress'],
            ingress: [
              {
                from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
                ports: [...new Set([METRICS_PORT, API_METRICS_PORT])].map((port) => ({ protocol: 'TCP', port })),
              },
            ],
          },
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'finops-api', labels: { 'app.kubernetes.io/part-of': PART_OF } },
          spec: {
            podSelector: { matchLabels: selector('api') },
            policyTypes: ['Ingress'],
            ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: API_PORT }] }],
          },
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'finops-ingest', labels: { 'app.kubernetes.io/part-of': PART_OF } },
          spec: {
            podSelector: { matchLabels: selector('ingest') },
            policyTypes: ['Ingress'],
            ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: INGEST_PORT }] }],
          },
        },
      ],
      'Ingress: the metrics/ops port (/metrics, /health, /ready; the API serves its /metrics there too, on API_METRICS_PORT) only from the monitoring namespace; the API port only to API pods and the ingest port (POST /events) only to ingest pods, from inside the cluster; nothing else. Egress stays open: alert webhooks (Slack, PagerDuty) live outside the cluster.',
    ),
  );
  put(
    'base/monitoring/servicemonitor.yaml',
    yamlDocs(
      [
        {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'ServiceMonitor',
          metadata: { name: 'finops-pipeline', labels: { 'app.kubernetes.io/part-of': PART_OF } },
          spec: {
            selector: { matchLabels: { 'app.kubernetes.io/part-of': PART_OF } },
            endpoints: [{ port: 'metrics', path: '/metrics', interval: '15s', scrapeTimeout: '10s' }],
            jobLabel: 'app.kubernetes.io/name',
          },
        },
      ],
      'Prometheus Operator scrape of every role (job label finops-<role>, matched by job=~"finops.*" in rules and dashboards).',
    ),
  );
  put(
    'base/monitoring/prometheusrule.yaml',
    yamlDocs(
      [{ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'finops-pipeline', labels: { 'app.kubernetes.io/part-of': PART_OF } }, spec: rules }],
      'The alert rules of prometheus/rules/finops.rules.yml, for the Prometheus Operator.',
    ),
  );
  put(
    'base/kustomization.yaml',
    `# Kustomize base: one Deployment per role, all from the same image. Apply an overlay (k8s/overlays/example).\n` +
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        labels: [{ pairs: { 'app.kubernetes.io/part-of': PART_OF }, includeSelectors: false }],
        resources: ['config.yaml', 'networkpolicy.yaml', 'setup-job.yaml', ...roles.map((r) => `roles/${r}.yaml`), 'monitoring/servicemonitor.yaml', 'monitoring/prometheusrule.yaml'],
      }),
  );
  put('components/keda/scaledobjects.yaml', yamlDocs(consumers.map(scaledObject), 'KEDA ScaledObjects: scale each consumer group on its lag (and CPU), 1 to TOPIC_PARTITIONS replicas.'));
  put(
    'components/keda/kustomization.yaml',
    `# KEDA component: KEDA makes its own HPA from each ScaledObject (lag + CPU), so the base's CPU-only\n# HPAs of the consumers are removed — two HPAs on one Deployment would fight.\n` +
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1alpha1',
        kind: 'Component',
        resources: ['scaledobjects.yaml'],
        patches: consumers.map((r) => ({ patch: stringify({ $patch: 'delete', apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: `finops-${r}` } }) })),
        // KEDA talks to Kafka itself: give it the brokers the pods use.
        replacements: [
          {
            source: { kind: 'ConfigMap', name: 'finops-config', fieldPath: 'data.KAFKA_BROKERS' },
            targets: [{ select: { kind: 'ScaledObject' }, fieldPaths: ['spec.triggers.[type=kafka].metadata.bootstrapServers'] }],
          },
        ],
      }),
  );
  return files;
}

if (require.main === module) {
  for (const [path, content] of Object.entries(generate())) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}
