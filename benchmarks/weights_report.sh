#!/usr/bin/env bash
# Every weights-dependent figure of README.md, docs/ and weights/README.md, for one checkpoint, into one folder:
# what a session re-measures before it ships new weights (each figure in the docs is one we measured).
# On the 2-core development CPU, beside a training run: eval_val 23 s, tradeoff_val 126 s, colour_cast 13 s,
# hints 51 s, hints_video 269 s; the five eval-video clips about 18 minutes with the training paused. Pause
# any training for the speed steps (kill -STOP / -CONT).
#
#   bash benchmarks/weights_report.sh W.pt OUT [SCENES_DIR]
#   bash benchmarks/weights_report.sh weights/effnet_unet.pt /tmp/report_shipped /root/vidcolor-data/scenes
#
# Then compare two reports file by file. Not made here: the by-eye counts (a contact sheet of
# `vidcolor ../shared/data/bw -o OUT --weights W`), docs/hints.png, docs/serve.png, and docs/strength.jpg
# (`python docs/make_figures.py strength --weights W`), the Speed rows of GPU loans.
set -euo pipefail
export PATH="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin:$PATH"  # the checkout's venv, where there is one
if [ $# -lt 2 ]; then
    sed -n 2,13p "$0"
    exit 2
fi
[ -f "$1" ] || { echo "$1: no such checkpoint" >&2; exit 2; }
W=$(realpath "$1")
OUT=$(realpath -m "$2")
SCENES=${3:+$(realpath "$3")}  # resolved before the cd below, like W and OUT
[ -z "$SCENES" ] || [ -d "$SCENES" ] || { echo "$3: not a folder" >&2; exit 2; }
DATA=$(realpath "$(dirname "$0")/../../shared/data")
cd "$(dirname "$0")/.."
[ -d "$DATA/val" ] || { echo "$DATA/val: not found (../shared/data beside the checkout)" >&2; exit 2; }
mkdir -p "$OUT"
step() {  # name, command...: its output in OUT/name.log, its seconds on the console
    local name=$1; shift
    local t=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1 || { echo "$name: failed, see $OUT/$name.log" >&2; return 1; }
    echo "$name: $((SECONDS - t)) s"
}
step eval_val vidcolor eval "$DATA/val" --weights "$W" --out "$OUT/eval_val"
if [ -n "$SCENES" ]; then
    step eval_scenes vidcolor eval "$SCENES" --weights "$W" --out "$OUT/eval_scenes"
fi
step tradeoff_val python benchmarks/tradeoff.py "$OUT/tradeoff_val.json" "$W" --val "$DATA/val"
step colour_cast python benchmarks/colour_cast.py --weights "$W" --bw "$DATA/bw" \
    --video "$DATA/video/abomb_bw_1952.mp4" --examples examples --json "$OUT/colour_cast.json"
step hints python benchmarks/hints.py "$DATA/val" --weights "$W" --counts 0,1,2,5,10,20,50 --json "$OUT/hints.json"
step hints_video python benchmarks/hints_video.py "$DATA/val" --weights "$W" --counts 0,5,10,20 --json "$OUT/hints_video.json"
step eval_video vidcolor eval-video "$DATA/video/cockatoo.mp4" "$DATA/video/bikes.mp4" "$DATA/video/vtest.avi" \
    "$DATA/video/carphone_pristine.mp4" "$DATA/video/Megamind.avi" --weights "$W" --json "$OUT/eval_video.json" -y
step model_speed python benchmarks/model_speed.py --weights "$W" --batch-sizes 2,4 --json "$OUT/model_speed.json"
step bench vidcolor bench "$DATA/video/cockatoo.mp4" --phases model,e2e --weights "$W" --json "$OUT/bench.json" -y
echo "wrote $OUT"
