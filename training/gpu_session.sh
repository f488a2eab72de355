#!/usr/bin/env bash
# A few minutes of training on a lent GPU; go on from its last snapshot on the CPU with --init (weights/README.md):
#
#     bash training/gpu_session.sh PACK.tar BUDGET_S OUT_DIR [python -m training train arguments ...]
#
# Unpacks PACK.tar (python -m training pack) into /tmp and trains on it with DataLoader workers, bf16
# autocast and NCHW (--memory-format channels_last: NHWC, which starts slower) for BUDGET_S seconds: the run's length is set from the rate measured
# during warm-up (planned on 85% of the time left), so the learning rate's cosine decay ends in time
# unless the rate drops later (then the clock stops it at 1.05x the budget, and the model is kept).
# Copies the snapshots (fp16, model only: evenly spaced, the last one is the final model), loss.csv,
# args.json and the log into OUT_DIR (last.pt, with the optimizer, is too large to bring back).
# PRIOR=prior.pt reuses a run's ab prior; DEVICE=cpu tries the same on a machine without a GPU. Packs that
# training/gpu_stage.sh unpacked in earlier calls to the same warm machine (STAGED, /tmp/vidcolor-packs) train beside
# PACK.tar; STAGED=none leaves them out.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 PACK.tar BUDGET_S OUT_DIR [train arguments ...]" >&2; exit 2; }
pack=$(realpath "$1"); budget=$2; out=$(realpath -m "$3"); shift 3
[ -n "${PRIOR:-}" ] && PRIOR=$(realpath "$PRIOR")
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
mkdir -p "$out"
work=$(mktemp -d /tmp/vidcolor-gpu.XXXX)
trap 'rm -rf "$work"' EXIT
tar xf "$pack" -C "$work"
data=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
[ -n "$data" ] || { echo "$pack: no folder inside (python -m training pack writes one)" >&2; exit 2; }
staged="${STAGED:-/tmp/vidcolor-packs}"
more=()
if [ "$staged" != none ] && [ -d "$staged" ]; then
    while IFS= read -r d; do more+=("$d"); done < <(find "$staged" -mindepth 1 -maxdepth 1 -type d -not -name '.*' | sort)
fi
echo "data: $data${more[*]:+ and ${#more[@]} staged: ${more[*]}}"
run="$work/run"
mkdir -p "$run"
[ -n "${PRIOR:-}" ] && cp "$PRIOR" "$run/prior.pt"
# three cores for the main process, the pin-memory thread and the rest; at most 12 workers (each holds 4 batches)
workers=$(( $(nproc) - 3 )); [ "$workers" -ge 1 ] || workers=1; [ "$workers" -le 12 ] || workers=12
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
set +e
"$PY" -m training train --data "$data" "${more[@]}" --run "$run" --device "${DEVICE:-cuda}" --workers "$workers" --time-budget "$budget" \
    --holdout 0 "$@" 2>&1 | tee "$out/train.log"
rc=${PIPESTATUS[0]}
cp "$run/loss.csv" "$run/args.json" "$out/" 2>/dev/null
cp "$run"/snapshots/*.pt "$out/" 2>/dev/null
ls -la "$out"
exit "$rc"
