#!/usr/bin/env bash
# Every benchmark, from a clean clone: ./bench/run.sh [--quick | --gpu]
# Sets up .venv with PyTorch (setup.sh --test), then prints the kernel and the training /
# sampling tables (Markdown) to stdout; paste a fresh run into bench/RESULTS.md.
# --gpu, on a machine with an NVIDIA GPU: setup (which makes Jittor work with the machine's CUDA
# and cuDNN), the test suite on CUDA, the kernel tables and the training tables with TF32 off and
# on (and one --deterministic row), 1 vs 2 MPI processes (one GPU each; a single-GPU machine gives the
# 1-process figure), appended to bench/RESULTS.md as a dated section whose first lines give the GPU,
# driver, CUDA, cuDNN and NCCL versions. About 30-40 minutes on an H100. The StyleGAN 2 training rows
# include Jittor with --fp16_res 4 and, when bench/prepare_nvidia.sh has filled bench/.nvidia (carry it to
# the GPU machine), NVIDIA's stylegan2-ada-pytorch iteration (fp16 on the top 4 resolutions, its CUDA ops).
set -euo pipefail
cd "$(dirname "$0")/.."
./setup.sh --test >&2
if [ "${1:-}" != "--gpu" ]; then
    quick=()
    [ "${1:-}" = "--quick" ] && quick=(--quick)
    .venv/bin/python bench/bench_kernels.py "${quick[@]}"
    .venv/bin/python bench/bench_training.py "${quick[@]}"
    exit 0
fi

py=.venv/bin/python
if ! JSG_DEVICE=cuda $py -c "import jittor_stylegan.ops, jittor as jt; assert jt.flags.use_cuda and jt.compile_extern.cudnn" >&2
then
    echo "bench/run.sh --gpu: Jittor cannot use CUDA with cuDNN here (see the messages above)" >&2
    exit 1
fi
out=$(mktemp -d)
tables() {  # the Markdown tables of a benchmark's output, its '# ...' header line as 'Run: ...'
    awk '/^# bench_/ {sub(/^# /, ""); print "Run: " $0; print ""; next}
         /^## / {print "##" $0; print ""; next}
         /^\|/ {print; table = 1; next}
         /^FAILED/ {print; next}
         table {print ""; table = 0}' "$1"
}
run() {  # run a benchmark, keeping its output (a failure is recorded, and the next one runs)
    local name=$1; shift
    echo "bench/run.sh: $*" >&2
    "$@" 2>&1 | tee "$out/$name.txt" >&2 || echo "FAILED: $*" >> "$out/$name.txt"
}

echo "bench/run.sh: the test suite on CUDA" >&2
JSG_DEVICE=cuda $py -m pytest -q -rfE -p no:cacheprovider 2>&1 | tee "$out/tests.txt" >&2 || true
run kernels $py bench/bench_kernels.py --repeats 20
run kernels_tf32 $py bench/bench_kernels.py --repeats 20 --allow_tf32
training=(bench/bench_training.py --widths default --sizes 32 64 128 256 --rounds 1 --iterations 8 --warmup 3
          --fp16_res 0 4)
run training $py "${training[@]}" --tf32_both
run training_det $py bench/bench_training.py --widths default --sizes 64 --rounds 1 --iterations 8 --warmup 3 \
    --deterministic
run mpi $py bench/bench_mpi.py --device cuda --rounds 1 --iterations 20

{
    echo
    echo "## GPU run: $(date -u +%Y-%m-%d), $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
    echo
    echo "Machine: $($py -c 'import sys; sys.path.insert(0, "bench"); import common; print(common.gpu_stack())')."
    echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); command \`./bench/run.sh --gpu\`."
    echo
    echo "### Tests on CUDA (\`JSG_DEVICE=cuda .venv/bin/python -m pytest -q\`)"
    echo
    echo '```'
    grep -E "^(FAILED|ERROR)|passed|failed" "$out/tests.txt" | tail -40
    echo '```'
    echo
    echo "### Kernels, TF32 off (\`bench/bench_kernels.py --repeats 20\`)"
    tables "$out/kernels.txt"
    echo
    echo "### Kernels, TF32 on (\`... --allow_tf32\`)"
    tables "$out/kernels_tf32.txt"
    echo
    echo "### Training and sampling, TF32 off and on (\`${training[*]} --tf32_both\`)"
    echo
    tables "$out/training.txt"
    echo
    echo "### The cost of --deterministic (compare with the 64 px TF32-off rows above)"
    echo
    tables "$out/training_det.txt"
    echo
    echo "### Several processes (\`bench/bench_mpi.py --device cuda\`, one GPU per process)"
    echo
    grep "^bench_mpi:" "$out/mpi.txt" || true
    tables "$out/mpi.txt"
} > "$out/section.md"
cat "$out/section.md" >> bench/RESULTS.md
cat "$out/section.md"
echo "bench/run.sh: appended to bench/RESULTS.md (raw outputs in $out)" >&2
