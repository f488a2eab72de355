#!/usr/bin/env bash
# A lent-GPU call for issue 16's 1080p line on a longer clip: does end to end / transcode depend on the
# clip's length (x264 buffers dozens of frames, which the pipeline fills slower than a decoder)?
# `vidcolor bench --phases transcode,e2e` twice on a generated 600-frame 1080p clip, then once with
# --temporal off. About 330 s on an H100; carry .whl and .whl_k. From the repository root.
OUT=${OUT:-gpu_loan_out}; mkdir -p "$OUT"
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl .whl_k/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site
el clip; python3 benchmarks/make_clip.py /tmp/c600.mp4 --size 1920x1080 --frames 600 || exit 4
for i in 1 2; do
  el "bench $i"; timeout 100 python3 -m vidcolor bench /tmp/c600.mp4 --phases transcode,e2e --json $OUT/bench600_$i.json 2>&1 | grep -E "transcode:|e2e:|CPU s|over"
done
el "bench temporal off"; timeout 90 python3 -m vidcolor bench /tmp/c600.mp4 --phases transcode,e2e --temporal off --json $OUT/bench600_off.json 2>&1 | grep -E "transcode:|e2e:|CPU s|over"
el done
