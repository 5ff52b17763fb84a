// Validates Kubernetes objects against their schemas (kubernetes-models, @kubernetes-models/keda,
// @kubernetes-models/prometheus-operator). These packages are ES modules only, so jest (CommonJS)
// runs this script as a child process: JSON array of objects on stdin → JSON array of results on stdout.
import { readFileSync } from 'node:fs';

const PACKAGES = { 'keda.sh': '@kubernetes-models/keda', 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator' };

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const pkg = PACKAGES[group] ?? 'kubernetes-models';
  const mod = await import(group ? `${pkg}/${group}/${version}` : `${pkg}/${version}`);
  if (!mod[kind]) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return mod[kind];
}

const docs = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const doc of docs) {
  const id = `${doc?.apiVersion} ${doc?.kind} ${doc?.metadata?.name}`;
  try {
    const Model = await modelFor(String(doc.apiVersion), String(doc.kind));
    new Model(doc).validate();
    results.push({ id, error: null });
  } catch (err) {
    results.push({ id, error: String(err?.message ?? err).slice(0, 2000) });
  }
}
process.stdout.write(JSON.stringify(results));
