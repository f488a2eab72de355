"""Colorizers and a live server for the `vidcolor serve` tests."""
from __future__ import annotations

import socket
import threading
import time

import torch
import torch.nn.functional as F

from vidcolor.colorizer import Colorizer
from vidcolor.models import load_checkpoint
from vidcolor.models.effnet_unet import EffNetUNet
from vidcolor.models.heads import pool_hint_map
from vidcolor.upsample import make_upsampler
from vidcolor.weights import shipped_weights


class PaintedHintNet(EffNetUNet):
    """A stand-in for a network trained with hints (tests only): the real network's prediction, then
    each hint's colour painted over the ab cells within `reach` of it. The shipped weights have no
    trained hint layers, and zero or random ones cannot show that a hint placed on the page moves
    the output toward its colour at the right pixels; this does, through the real hint map."""

    reach = 2  # ab cells (4 input pixels each at the working size)

    def predict_ab(self, l_norm, hint_map=None, palette=None):
        ab = super().predict_ab(l_norm, hint_map, palette)
        if hint_map is None:
            return ab
        cells = pool_hint_map(hint_map.float(), self.stride)  # (B, 3, h, w): ab / AB_SCALE and the mask
        k, r = 2 * self.reach + 1, self.reach
        near = F.max_pool2d(cells[:, 2:3], k, 1, r)
        mean_ab = F.avg_pool2d(cells[:, :2] * cells[:, 2:3], k, 1, r) / F.avg_pool2d(cells[:, 2:3], k, 1, r).clamp_min(1e-6)
        return torch.where(near > 0, mean_ab, ab.float())


def hint_colorizer(shipped: bool = False, work_size: int = 64) -> Colorizer:
    """A hint-capable colorizer: untrained (fast, for the API tests) or on the shipped weights (the page)."""
    torch.manual_seed(0)
    net = PaintedHintNet(hints=True)
    net.arch_name, net.model_args = "effnet_unet-painted-hints", {"hints": True}  # what create_model would set
    if not shipped:
        return Colorizer(net, work_size=work_size)
    path, sha = shipped_weights("effnet_unet")
    src = load_checkpoint(path, sha256=sha)
    missing, unexpected = net.load_state_dict(src.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("hint_") for k in missing), (missing, unexpected)
    net.set_decode(**src.decode_settings())
    return Colorizer(net, work_size=src.checkpoint_meta.get("work_size"), upsampler=make_upsampler("guided"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app under uvicorn on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
