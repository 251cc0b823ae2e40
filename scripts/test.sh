#!/usr/bin/env bash
# The test suite: sets up .venv if needed, then runs pytest (slow real-data checks: add -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec .venv/bin/python -m pytest -m "not slow" "$@"
