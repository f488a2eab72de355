import pytest
import torch

from vidcolor.colorizer import Colorizer
from vidcolor.models import create_model, save_checkpoint

torch.set_num_threads(2)


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
