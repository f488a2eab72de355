#!/usr/bin/env bash
# One lent-GPU call for the pipeline (issue 16): wheels, a 1080p clip, vidcolor bench, first-call costs,
# whole processes against a plain transcode, then gpu_check (profile, GPU vs CPU, tests). About 380 s on an
# H100; carry .whl and .whl_k (docs/gpu_session.md). Run from the repository root: bash benchmarks/gpu_loan.sh
OUT=${OUT:-gpu_loan_out}; mkdir -p "$OUT"  # the device machine sets OUT
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl .whl_k/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site
el clip; python3 benchmarks/make_clip.py /tmp/c1080.mp4 --size 1920x1080 --frames 150 || exit 4
el bench; timeout 100 python3 -m vidcolor bench /tmp/c1080.mp4 --json $OUT/bench1080.json 2>&1 | tail -12
el first; timeout 100 python3 benchmarks/gpu_first_call.py --json $OUT/first_call.json 2>&1 | tail -5
el whole; PYTHONUNBUFFERED=1 timeout 90 python3 benchmarks/e2e_vs_transcode.py /tmp/c1080.mp4 --rounds 2 --json $OUT/whole1080.json 2>&1 | tail -8
el gpu_check; PYTHONUNBUFFERED=1 timeout 200 bash benchmarks/gpu_check.sh --out $OUT --budget 180 --clip /tmp/c1080.mp4 --skip train --skip model --skip bench 2>&1 | tail -12
el done
