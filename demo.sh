#!/usr/bin/env bash
# The whole workflow on the built-in emoji set, sized for a 2-core CPU (about 10 minutes):
# setup, LMDB, progressive training 8 -> 32 px, generated grids, progress video.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
PY=.venv/bin/python
RUN=runs/emoji-demo
rm -rf "$RUN"
$PY prepare_data.py --out mdb/emoji --builtin emoji --max_size 32 --force
$PY train.py --mixing mdb/emoji --preset cpu-demo --run_dir "$RUN"
$PY generate.py --size 32 --out "$RUN/generated"   # the newest checkpoint: this run's
$PY video_write.py                                  # this run's samples -> $RUN/progress.mp4
echo "demo: samples in $RUN/sample, grids in $RUN/generated, video $RUN/progress.mp4"
