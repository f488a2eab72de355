#!/usr/bin/env bash
# A few minutes of training on a lent GPU, to be resumed on the CPU afterwards (weights/README.md):
#
#     bash training/gpu_session.sh PACK.tar BUDGET_S OUT_DIR [python -m training train arguments ...]
#
# Unpacks PACK.tar (python -m training pack) into /tmp and trains on it with DataLoader workers, bf16
# autocast and channels_last for BUDGET_S seconds: the run's length is set from the rate measured
# during warm-up, so the learning rate's cosine decay ends in time. Copies the snapshots (fp16, model
# only: evenly spaced, the last one is the final model), loss.csv, args.json and the log into OUT_DIR.
# PRIOR=prior.pt reuses a run's ab prior; DEVICE=cpu tries the same on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: $0 PACK.tar BUDGET_S OUT_DIR [train arguments ...]" >&2; exit 2; }
pack=$1; budget=$2; out=$3; shift 3
PY="${PYTHON:-python3}"
mkdir -p "$out"
work=$(mktemp -d /tmp/vidcolor-gpu.XXXX)
tar xf "$pack" -C "$work"
data=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
run="$work/run"
mkdir -p "$run"
[ -n "${PRIOR:-}" ] && cp "$PRIOR" "$run/prior.pt"
workers=$(( $(nproc) - 3 )); [ "$workers" -ge 1 ] || workers=1  # the main process and the GPU's feeder keep a core each
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
set +e
"$PY" -m training train --data "$data" --run "$run" --device "${DEVICE:-cuda}" --workers "$workers" --time-budget "$budget" \
    --holdout 0 "$@" 2>&1 | tee "$out/train.log"
rc=${PIPESTATUS[0]}
cp "$run/loss.csv" "$run/args.json" "$out/" 2>/dev/null
cp "$run"/snapshots/*.pt "$out/" 2>/dev/null
ls -la "$out"
exit "$rc"
