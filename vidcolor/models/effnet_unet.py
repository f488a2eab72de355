"""effnet_unet: a U-Net decoder on the ImageNet-pretrained EfficientNet-Lite0 encoder (or -Lite2:
`encoder="lite2"`, the larger encoder issue 11 asks to try for photos).

The decoder stops at 1/4 resolution: chroma is low-frequency, and predicting ab at 1/4 (as eccv16
does) and upsampling it with the full-resolution L as guide is what makes ~20 frames/s on a CPU
possible. A global branch (pooled 1280-d head) gives every pixel the scene context.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from vidcolor.hints import HINT_CHANNELS
from vidcolor.models.bins import ab_bins
from vidcolor.models.blocks import UpBlock
from vidcolor.models.efficientnet_lite import Conv2dSame, EfficientNetLite, pretrained_state_dict
from vidcolor.models.heads import ColorHead, ColorNet, pool_hint_map
from vidcolor.models.registry import register_model


class EffNetUNet(ColorNet):
    stride = 4
    size_multiple = 32

    def __init__(self, head: str = "both", widths: tuple[int, int, int] = (160, 96, 64), pretrained: bool = False,
                 hints: bool = False, encoder: str = "lite0"):
        super().__init__()
        self.accepts_hints = hints
        self.encoder = EfficientNetLite(encoder)
        if pretrained:
            sd = {k: v for k, v in pretrained_state_dict(encoder).items() if not k.startswith("_fc.")}
            self.encoder.load_state_dict(sd, strict=True)
        c2, c4, c8, c16, c32 = self.encoder.feature_channels
        w16, w8, w4 = widths
        self.bottleneck = nn.Sequential(nn.Conv2d(c32, 256, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True))
        self.global_fc = nn.Linear(self.encoder.head_channels, 256)
        self.up16 = UpBlock(256, c16, w16)
        self.up8 = UpBlock(w16, c8, w8)
        self.up4 = UpBlock(w8, c4, w4)
        self.head = ColorHead(w4, head)
        if hints:
            # Hints (Zhang et al. 2017) enter twice: at the stem, so the whole encoder can carry a hint
            # across its object, and at the 1/4 decoder, where ab is predicted, so a hint's colour
            # arrives intact. Every hint layer is bias-free and starts at zero: no hints (all-zero
            # inputs) contribute exactly nothing, and a network warm-started from an automatic one
            # begins as that network.
            self.hint_stem = Conv2dSame(HINT_CHANNELS, 32, 3, stride=2, bias=False)
            self.hint_dec = nn.Sequential(nn.Conv2d(HINT_CHANNELS, 64, 3, padding=1, bias=False), nn.ReLU(inplace=True),
                                          nn.Conv2d(64, w4, 1, bias=False))
            self.hint_palette = nn.Linear(ab_bins().shape[0], 256, bias=False)
            for m in (self.hint_stem, self.hint_dec[2], self.hint_palette):
                nn.init.zeros_(m.weight)

    def forward(self, l_norm: torch.Tensor, hint_map: torch.Tensor | None = None,
                palette: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """l_norm (B, 1, H, W); hint_map (B, 3, H, W) a/AB_SCALE, b/AB_SCALE, mask; palette (B, Q)."""
        self.check_hints(hint_map, palette)
        # The encoder was trained on RGB; gray is L replicated to three channels, in [0, 255].
        x = (l_norm * 255.0).expand(-1, 3, -1, -1)
        stem_extra = self.hint_stem(hint_map) if hint_map is not None else None
        (f2, f4, f8, f16, f32), head = self.encoder(x, stem_extra)
        g = self.global_fc(head.mean((2, 3)))
        if palette is not None:
            g = g + self.hint_palette(palette)
        x = self.bottleneck(f32) + g[:, :, None, None]
        x = self.up16(x, f16)
        x = self.up8(x, f8)
        x = self.up4(x, f4)
        if hint_map is not None:
            x = x + self.hint_dec(pool_hint_map(hint_map, self.stride))
        return self.head(x)


@register_model
def effnet_unet(head: str = "both", widths: tuple[int, int, int] = (160, 96, 64), pretrained: bool = False,
                hints: bool = False, encoder: str = "lite0") -> EffNetUNet:
    return EffNetUNet(head=head, widths=tuple(widths), pretrained=pretrained, hints=hints, encoder=encoder)
