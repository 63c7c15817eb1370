#!/usr/bin/env bash
# The Prometheus rules (ops/prometheus/): `promtool check rules` on every
# rules file, then `promtool test rules` on every test file, where each alert
# fires on a synthetic series past its threshold and stays quiet below it.
# Run by scripts/test.sh (make test); needs no stack.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v promtool >/dev/null || { echo "promtool not installed (scripts/install-deps.sh)"; exit 1; }
cd "$repo/ops/prometheus"
promtool check rules ./*.rules.yml
promtool test rules tests/*.test.yml
