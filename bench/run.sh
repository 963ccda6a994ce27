#!/usr/bin/env bash
# Every benchmark, from a clean clone: ./bench/run.sh [--quick]
# Sets up .venv with PyTorch (setup.sh --test), then prints the kernel and the training /
# sampling tables (Markdown) to stdout; paste a fresh run into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./setup.sh --test >&2
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
.venv/bin/python bench/bench_kernels.py "${quick[@]}"
.venv/bin/python bench/bench_training.py "${quick[@]}"
