#!/usr/bin/env bash
# A lent-GPU call (issue 16): does the network stride (2, the default since 2026-11-27, against 1) change
# 1080p end to end / transcode on a GPU? `vidcolor bench --phases transcode,e2e` through
# benchmarks/stride_bench.py, interleaved, on a 150-frame and a 600-frame generated 1080p clip.
# About 330 s on an H200; carry .whl and .whl_k (docs/gpu_session.md). From the repository root.
OUT=${OUT:-gpu_loan_out}; mkdir -p "$OUT"
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl .whl_k/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1
el clips
python3 benchmarks/make_clip.py /tmp/c150.mp4 --size 1920x1080 --frames 150 || exit 4
python3 benchmarks/make_clip.py /tmp/c600.mp4 --size 1920x1080 --frames 600 || exit 4
for r in 1 2; do for s in 2 1; do
  el "150 frames, stride $s, round $r"
  timeout 60 python3 benchmarks/stride_bench.py $s /tmp/c150.mp4 --phases transcode,e2e --json $OUT/s${s}_150_r$r.json 2>&1 | grep -E "transcode:|e2e:|CPU s|over"
done; done
for s in 2 1; do
  el "600 frames, stride $s"
  timeout 100 python3 benchmarks/stride_bench.py $s /tmp/c600.mp4 --phases transcode,e2e --json $OUT/s${s}_600.json 2>&1 | grep -E "transcode:|e2e:|CPU s|over"
done
el done
