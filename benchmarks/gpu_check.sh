#!/usr/bin/env bash
# The GPU check in one command, from the repository root of a machine where the venv exists:
#
#     bash benchmarks/gpu_check.sh                 # CUDA: bench 1080p, model fps, training, GPU vs CPU, tests (< 8 min)
#     bash benchmarks/gpu_check.sh --dry-run       # no GPU: the same parts on the CPU at tiny sizes (CI runs this)
#
# Writes gpu_check/gpu_check.json and gpu_check/gpu_check.txt (--out DIR to put them elsewhere).
# PYTHON=/path/to/python picks the interpreter; by default the repository's .venv, else python3.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # training/ is imported from the checkout, as its tests do
# a hard stop a little after the script's own 8-minute plan, so a hung part cannot hold a lent GPU
exec timeout --kill-after=10 510 "$PY" benchmarks/gpu_check.py "$@"
