#!/usr/bin/env bash
# Runs the pipeline end to end on the local stack (starting it first) and prints what happened.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
bash stack/stack.sh up >/dev/null
LOG_LEVEL="${LOG_LEVEL:-silent}" exec npx tsx scripts/demo.ts
