#!/usr/bin/env bash
# One lent-GPU call for the pipeline (issue 16): wheels, start-up traced stage by stage, a 1080p clip,
# vidcolor bench (twice, for two e2e readings), whole processes against a plain transcode, the first
# network call's cost, then gpu_check (profile, GPU vs CPU, all tests with failures named). About 480 s
# on an H100; carry .whl and .whl_k (docs/gpu_session.md). From the repository root: bash benchmarks/gpu_loan.sh
OUT=${OUT:-gpu_loan_out}; mkdir -p "$OUT"  # the device machine sets OUT; at most 8 files come back from it
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl .whl_k/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site
el startup; timeout 60 python3 benchmarks/gpu_startup.py --runs 2 --json $OUT/startup.json 2>&1 | tail -3
el clip; python3 benchmarks/make_clip.py /tmp/c1080.mp4 --size 1920x1080 --frames 150 || exit 4
el bench; timeout 110 python3 -m vidcolor bench /tmp/c1080.mp4 --json $OUT/bench1080.json 2>&1 | tail -14
el bench2; timeout 60 python3 -m vidcolor bench /tmp/c1080.mp4 --phases transcode,e2e 2>&1 | grep -E "transcode:|e2e:|over"
el whole; PYTHONUNBUFFERED=1 timeout 100 python3 benchmarks/e2e_vs_transcode.py /tmp/c1080.mp4 --rounds 3 --json $OUT/whole1080.json 2>&1 | tail -6
el first; timeout 60 python3 benchmarks/gpu_first_call.py --variants default,fp32 2>&1 | tail -5
el gpu_check; PYTHONUNBUFFERED=1 timeout 300 bash benchmarks/gpu_check.sh --out $OUT --budget 280 --clip /tmp/c1080.mp4 --skip train --skip model --skip bench 2>&1 | tail -12
el done
