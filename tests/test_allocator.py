import os
import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
from vidcolor.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "1" else False
for _ in range(3):  # warm up
    np.ones(8 << 20, np.uint8)
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):  # a batch's frame-sized arrays made, written and freed, as the video pipeline does
    arrays = [np.empty(8 << 20, np.uint8) for _ in range(6)]
    for a in arrays:
        a.fill(1)
    del arrays, a
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def _faults(keep: bool, env: dict | None = None) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | (env or {})
    out = subprocess.run([sys.executable, "-c", PROBE, "1" if keep else "0"], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_frame_buffers_are_reused_without_page_faults():
    """By default glibc gives a batch's freed 48 MB back to the system, and each 8 MB array of the next
    batch faults its 2,048 pages in again; with freed memory kept (the CLI's setting) next to none."""
    applied, kept = _faults(True)
    assert applied
    _, default = _faults(False)
    assert kept < 0.1 * default, (kept, default)


def test_the_users_own_malloc_settings_win():
    applied, _ = _faults(True, {"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert not applied
