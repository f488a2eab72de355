#!/usr/bin/env bash
# Unpack packs into a folder that stays on a lent GPU machine while it is warm (30 s after each call), so that a
# later call's training (training/gpu_session.sh) uses them beside the pack it carries: one call carries at most
# 64 MiB, and one pack of 3,600 photos was seen 130 times in 7 minutes of training (docs/gpu_session.md).
#
#     bash training/gpu_stage.sh PACK.tar [PACK.tar ...]          # STAGED=/tmp/vidcolor-packs by default
#
# Make the packs disjoint with `python -m training pack ... --after EARLIER.tar`, each with its own file name
# (a pack unpacks into the folder named as its file, up to the first dot).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PACK.tar [PACK.tar ...]" >&2; exit 2; }
staged="${STAGED:-/tmp/vidcolor-packs}"
mkdir -p "$staged"
for pack in "$@"; do
    stem=$(basename "$pack"); stem=${stem%%.*}
    [ ! -e "$staged/$stem" ] || { echo "$pack: $staged/$stem is there already (staged by an earlier call?)" >&2; exit 2; }
    tmp=$(mktemp -d "$staged/.unpack.XXXX")
    tar xf "$pack" -C "$tmp" && mv "$tmp/$stem" "$staged/$stem" && rmdir "$tmp" \
        || { rm -rf "$tmp"; echo "$pack: could not unpack it into $staged" >&2; exit 1; }
    echo "$pack: $(find "$staged/$stem" -name '*.jpg' | wc -l) photos staged in $staged/$stem"
done
echo "staged: $(find "$staged" -mindepth 1 -maxdepth 1 -type d -not -name '.*' | wc -l) packs, $(find "$staged" -name '*.jpg' | wc -l) photos"
