#!/usr/bin/env bash
# Runs every test: type-check, unit tests, then integration tests against the real local stack
# (Kafka, schema registry, Postgres, Redis), which this script installs and starts if needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
bash stack/stack.sh up

results="$(mktemp -d)"
status=0
echo "== type-check"
npx tsc --noEmit -p . || status=1
echo "== unit tests"
npx jest --selectProjects unit --json --outputFile="$results/unit.json" "$@" || status=1
echo "== integration tests (real stack)"
npx jest --selectProjects integration --runInBand --json --outputFile="$results/integration.json" "$@" || status=1

# One plain closing line for whoever reads only the end.
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites; skipped += r.numPendingTests;
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results/unit.json" "$results/integration.json"
exit $status
