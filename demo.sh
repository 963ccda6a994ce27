#!/usr/bin/env bash
# The whole workflow on the built-in Fashion-MNIST set (Debian's dataset-fashion-mnist), sized for a 2-core
# CPU: setup, a grey 32 px LMDB, StyleGAN 1 at the cpu-demo settings (progressive 8 -> 16 -> 32 px, the preset's
# 7,500 iterations: on a CPU it reaches recognisable garments sooner than StyleGAN 2), generated grids, the
# progress video and the FID of the final model. A fixed iteration count, not a time budget, so that every
# machine ends with the same model: a busy machine takes longer rather than stopping at a smaller size.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
PY=.venv/bin/python
RUN=runs/fashion-mnist-demo
rm -rf "$RUN"
$PY prepare_data.py --out mdb/fashion-mnist --builtin fashion-mnist --max_size 32 --force
$PY train.py mdb/fashion-mnist --arch stylegan1 --preset cpu-demo --mixing --run_dir "$RUN"
$PY generate.py --out "$RUN/generated"        # the newest checkpoint: this run's
$PY video_write.py                             # this run's samples -> $RUN/progress.mp4
CKPT=$(ls "$RUN"/checkpoint/*.npz | tail -n 1)
echo "demo: FID of $CKPT (500 generated images against the first 1,000 real ones: biased upwards by so few"
echo "      images; bench/RESULTS.md scores 2,000 against 10,000)"
$PY calc_metrics.py --path "$CKPT" --data mdb/fashion-mnist --num 1000 --num_fake 500 \
    --metrics fid,kid
echo "demo: samples in $RUN/sample, grids in $RUN/generated, video $RUN/progress.mp4"
