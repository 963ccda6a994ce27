#!/usr/bin/env bash
# The whole workflow on the built-in Fashion-MNIST set (Debian's dataset-fashion-mnist), sized for a 2-core
# CPU (about 10 minutes after setup): setup, a grey 32 px LMDB, StyleGAN 1 at the cpu-demo settings for
# 8 minutes (progressive 8 -> 16 -> 32 px: on a CPU it reaches recognisable garments sooner than StyleGAN 2),
# generated grids, the progress video and the FID of the final model.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
PY=.venv/bin/python
RUN=runs/fashion-mnist-demo
rm -rf "$RUN"
$PY prepare_data.py --out mdb/fashion-mnist --builtin fashion-mnist --max_size 32 --force
$PY train.py mdb/fashion-mnist --arch stylegan1 --preset cpu-demo --mixing --minutes 8 --run_dir "$RUN" --no_progress
$PY generate.py --out "$RUN/generated"        # the newest checkpoint: this run's
$PY video_write.py                             # this run's samples -> $RUN/progress.mp4
CKPT=$(ls "$RUN"/checkpoint/*.npz | tail -n 1)
echo "demo: FID of $CKPT (500 generated images against the first 1,000 real ones: biased upwards by so few"
echo "      images; bench/RESULTS.md scores 2,000 against 10,000)"
$PY calc_metrics.py --path "$CKPT" --data mdb/fashion-mnist --num 1000 --num_fake 500 \
    --metrics fid,kid
echo "demo: samples in $RUN/sample, grids in $RUN/generated, video $RUN/progress.mp4"
