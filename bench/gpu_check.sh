#!/usr/bin/env bash
# GPU readiness: on a machine with a CUDA GPU (set up with HEADSTART_TORCH=torch bash scripts/bootstrap.sh),
# runs the default test suite (the Trainer and Predictor take the GPU wherever they can), then trains
# minilm on MRPC and CoNLL-2003 for one epoch each and compares Predictor with the pipeline
# (bench/gpu_check.py: time, precision, scores, throughput). Without a GPU it says so and exits 0.
#   bash bench/gpu_check.sh [--skip-tests] [extra bench/gpu_check.py flags]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L > /dev/null 2>&1; then
    echo "no GPU: skipped"
    exit 0
fi
nvidia-smi -L
HEADSTART_TORCH="${HEADSTART_TORCH:-torch}" bash scripts/bootstrap.sh
if ! .venv/bin/python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: expected a CUDA build of torch in .venv; found $(.venv/bin/python -c 'import torch; print(torch.__version__)')," \
         "which does not see the GPU; do: rm -rf .venv && HEADSTART_TORCH=torch bash scripts/bootstrap.sh" >&2
    exit 2
fi
skip_tests=0
if [ "${1:-}" = "--skip-tests" ]; then skip_tests=1; shift; fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
tests_rc=skipped
if [ "$skip_tests" = 0 ]; then
    set +e
    .venv/bin/python -m pytest -q -m "not slow" -p no:cacheprovider
    tests_rc=$?
    set -e
fi
.venv/bin/python bench/gpu_check.py --tests "$tests_rc" "$@"
