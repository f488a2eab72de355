import pytest
import torch

from vidcolor.colorizer import Colorizer
from vidcolor.models import create_model, save_checkpoint

torch.set_num_threads(2)

# Tests that take the `device` fixture run once per device: on the CPU always, and on CUDA where a GPU
# is present (benchmarks/gpu_check.sh runs the suite there); elsewhere the CUDA variant is skipped.
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="session")
def colorizer():
    """An untrained network at a small working size: tests check plumbing, not colour quality."""
    torch.manual_seed(0)
    return Colorizer(create_model("effnet_unet"), work_size=64)


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """An explicit checkpoint of an untrained network, for CLI tests (the CLI never invents weights)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "untrained.pt"
    model = create_model("effnet_unet")
    save_checkpoint(model, path, half=True, meta={"work_size": 64})
    return path


@pytest.fixture
def encoder_fails_at(monkeypatch):
    """`encoder_fails_at(n, exc)` makes the n-th frame written to a video segment raise `exc` (a Ctrl-C, a
    full disk) and returns a function that puts the real encoder back, for the resumed run."""
    from vidcolor.io import segments

    write = segments.SegmentEncoder.write

    def arm(n: int, exc: BaseException):
        calls = []

        def failing(self, *args):
            calls.append(1)
            if len(calls) == n:
                raise exc
            return write(self, *args)

        monkeypatch.setattr(segments.SegmentEncoder, "write", failing)
        return lambda: monkeypatch.setattr(segments.SegmentEncoder, "write", write)

    return arm
