"""The container matrix: every output container (mp4, mkv, mov, webm, avi) for sources with no audio and
with AAC, MP3, AC-3, Opus and PCM audio, from sources in every container that holds that audio.

Each cell is a real `colorize_video` run on a tiny generated clip (20 frames at 64x48) and either
works, checked as tests/matrix.py does (frame count, every frame time, duration, audio length, the
codecs written), or is refused with one line before any decoding in under 2 s. `--codec` also tries
an encoder of your choice in every container (libx264 shows the refusals for WebM).

The network is an untrained one at working size 64: what is tested is the I/O, not colour.

    python benchmarks/container_matrix.py --inputs mkv,mp4,mov,avi,webm --codec libx264
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.matrix import AUDIO, OUTPUTS, make_source, run_cell  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", default="mkv", help="source containers, comma-separated (mkv holds every audio codec here)")
    ap.add_argument("--codec", action="append", default=[], help="also try this video encoder (repeatable)")
    a = ap.parse_args()
    import torch

    from vidcolor.colorizer import Colorizer
    from vidcolor.models import create_model

    torch.manual_seed(0)
    colorizer = Colorizer(create_model("effnet_unet"), work_size=64)
    cells = []
    print(f"{'source':>6} {'audio':>9} {'codec':>10} -> {'output':<6} {'outcome':<8} {'s':>5}  {'video':<6} {'audio':<10} detail")
    with tempfile.TemporaryDirectory(prefix="vidcolor-matrix-") as tmp:
        tmp = Path(tmp)
        for container in a.inputs.split(","):
            for audio in AUDIO:
                folder = tmp / container
                folder.mkdir(exist_ok=True)
                try:
                    src = make_source(folder, audio, container)
                except (ValueError, av.error.FFmpegError) as e:  # the muxer refuses the pair: no such source
                    print(f"{container:>6} {audio or '-':>9}   (no such source: {str(e).splitlines()[0][:60]})")
                    continue
                for codec in [None, *a.codec]:
                    for output in OUTPUTS:
                        c = run_cell(src, output, colorizer, folder, codec)
                        cells.append(c)
                        print(f"{container:>6} {audio or '-':>9} {codec or 'default':>10} -> {output:<6} {c.outcome:<8} "
                              f"{c.seconds:5.2f}  {c.video:<6} {c.audio_out:<10} {c.detail}")
    bad = [c for c in cells if not c.ok]
    works, refused = sum(c.outcome == "works" for c in cells), sum(c.outcome == "refused" for c in cells)
    slowest = max((c.seconds for c in cells if c.outcome == "refused"), default=0.0)
    print(f"{len(cells)} combinations: {works} work, {refused} refused before decoding (slowest refusal {slowest:.2f} s), "
          f"{len(bad)} failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
